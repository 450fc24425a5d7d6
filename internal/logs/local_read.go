package logs

import (
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// localReader reads the local driver's files: container.log and its
// rotations container.log.N, or container.log.N.gz when compressed.
type localReader struct {
	sink
	path string
	dir  *dirLock // nil while the directory does not exist

	// The snapshot open takes.
	cur      *os.File
	curEnd   int64 // just past cur's last whole frame
	curCount int   // whole frames in cur
	curStop  error // what ended cur's frames before curEnd, if not its end
	rotated  []*logFile
	newest   uint64 // identity (logFile.ino) of the newest file read

	tail *frameReader // the follower's, reused across wake-ups
}

// logFile is a rotated file as opened, plain or gzip'ed.
type logFile struct {
	f  *os.File
	gz bool
	// ino identifies the file across its compression: a plain file's
	// inode, or the one a .gz's header says it had (0: unknown).
	ino  uint64
	meta gzipMeta
}

// open takes the snapshot a read starts from, under the directory lock
// so that the set of files is consistent, then finds where the whole
// frames of the current file end.
//
// That end is found by walking the current file forward from its start:
// its last frame may be still being written, and the bytes of a torn
// frame can be made (by what the container prints) to look like a valid
// frame ending when read backwards. Rotated files are complete, so they
// are walked backwards for a tail.
func (r *localReader) open() (err error) {
	defer func() {
		if err != nil {
			r.close() // run, which would, does not run
		}
	}()
	dl, err := openDirLock(filepath.Dir(r.path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing logged yet
	}
	if err != nil {
		return err
	}
	r.dir = dl
	if err := dl.lock(false); err != nil {
		return err
	}
	cur, err := openIfExists(r.path)
	var rotated []*logFile
	if err == nil {
		rotated, err = openRotatedSet(r.path)
	}
	dl.unlock()
	r.cur, r.rotated = cur, rotated
	if err != nil {
		return err
	}
	if err := r.identify(rotated); err != nil {
		return err
	}
	if cur != nil {
		fi, err := cur.Stat()
		if err != nil {
			return err
		}
		r.newest = inodeOf(fi)
		fr := newFrameReader(io.NewSectionReader(cur, 0, fi.Size()), 0, fi.Size())
		r.curCount, r.curEnd, r.curStop, err = countFrames(fr)
		if errors.Is(r.curStop, io.ErrUnexpectedEOF) {
			r.curStop = nil // the entry being written: follow reads it
		}
		return err
	} else if len(rotated) > 0 {
		r.newest = rotated[0].ino
	}
	return nil
}

// openRotatedSet opens path.1, path.2, ... newest first, each plain if
// that name exists, else gzip'ed (a file being compressed is under both
// names, the plain one complete). The directory lock is held, so the
// first missing number is the end.
func openRotatedSet(path string) ([]*logFile, error) {
	var files []*logFile
	for i := 1; ; i++ {
		name := path + "." + strconv.Itoa(i)
		f, err := openIfExists(name)
		gz := false
		if err == nil && f == nil {
			f, err = openIfExists(name + ".gz")
			gz = true
		}
		if err != nil {
			closeLogFiles(files)
			return nil, err
		}
		if f == nil {
			return files, nil
		}
		files = append(files, &logFile{f: f, gz: gz})
	}
}

func openIfExists(name string) (*os.File, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// identify fills in each file's identity, reading .gz headers; done
// outside the directory lock.
func (r *localReader) identify(files []*logFile) error {
	for _, lf := range files {
		if !lf.gz {
			fi, err := lf.f.Stat()
			if err != nil {
				return err
			}
			lf.ino = inodeOf(fi)
			continue
		}
		m, err := readGzipMeta(lf.f)
		if err != nil {
			// Unreadable: it shows up as corruption when read.
			continue
		}
		lf.meta, lf.ino = m, m.SourceInode
	}
	return nil
}

func closeLogFiles(files []*logFile) {
	for _, lf := range files {
		lf.f.Close()
	}
}

func (r *localReader) close() {
	if r.cur != nil {
		r.cur.Close()
	}
	closeLogFiles(r.rotated)
	if r.dir != nil {
		r.dir.close()
	}
}

func (r *localReader) run() error {
	defer r.close()
	if r.curStop != nil {
		r.reportCorrupt(&CorruptError{Path: r.path, Offset: r.curEnd, Err: r.curStop})
	}
	if r.opts.Tail != 0 {
		segs, err := r.planHistory()
		if err != nil {
			return err
		}
		for _, s := range segs {
			if err := r.readSegment(s); err != nil {
				return err
			}
			if r.stopped {
				return nil
			}
		}
	}
	if !r.opts.Follow {
		return nil
	}
	// follow owns the current file from here; past a corruption (already
	// reported) it only waits for the file to rotate.
	f := r.cur
	r.cur = nil
	state := drainedAll
	if r.curStop != nil {
		state = drainedLost
	}
	return r.follow(f, r.curEnd, state)
}

// localSegment is what to read of one file: the frames in [start, end)
// of a plain file, or a gzip'ed file's, after skip of them.
type localSegment struct {
	f          *os.File
	gz         bool
	start, end int64
	skip       int
}

// planHistory picks what holds the last Tail entries (all of them when
// Tail < 0), oldest first.
func (r *localReader) planHistory() ([]localSegment, error) {
	need := r.opts.Tail
	var segs []localSegment // newest first
	if r.cur != nil && r.curCount > 0 {
		s := localSegment{f: r.cur, end: r.curEnd}
		if need >= 0 {
			// curEnd was reached walking forward: a true frame boundary,
			// from which walking back is safe.
			start, n, ok, err := tailFrames(r.cur, r.curEnd, need)
			if err != nil {
				return nil, err
			}
			if ok {
				s.start = start
			} else {
				n = min(need, r.curCount)
				s.skip = r.curCount - n
			}
			need -= n
		}
		segs = append(segs, s)
	}
	for _, lf := range r.rotated {
		if need == 0 {
			break
		}
		if lf.gz && !r.opts.Since.IsZero() && !lf.meta.LastTime.IsZero() && lf.meta.LastTime.Before(r.opts.Since) {
			// Nothing in it is recent enough, and older files hold
			// older entries: docker's shortcut.
			break
		}
		s, n, err := r.planRotated(lf, need)
		if err != nil {
			return nil, err
		}
		segs = append(segs, s)
		if need > 0 {
			need -= n
		}
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return segs, nil
}

// planRotated plans the last need entries of a rotated file (all when
// need < 0) and says how many that is.
func (r *localReader) planRotated(lf *logFile, need int) (localSegment, int, error) {
	s := localSegment{f: lf.f, gz: lf.gz}
	if !lf.gz {
		fi, err := lf.f.Stat()
		if err != nil {
			return s, 0, err
		}
		s.end = fi.Size()
		if need < 0 {
			return s, 0, nil
		}
		start, n, ok, err := tailFrames(lf.f, s.end, need)
		if err != nil || ok {
			s.start = start
			return s, n, err
		}
	} else if need < 0 {
		return s, 0, nil
	}
	// A .gz cannot be read backwards, nor can a torn file: count its
	// frames, then skip all but the last need when reading.
	rd, closeFn, err := r.segmentStream(s)
	if err != nil {
		r.reportCorrupt(&CorruptError{Path: lf.f.Name(), Err: err})
		return localSegment{f: lf.f, gz: lf.gz}, 0, nil
	}
	count, _, _, err := countFrames(rd)
	closeFn()
	if err != nil && !lf.gz {
		return s, 0, err
	}
	n := min(need, count)
	s.skip = count - n
	return s, n, nil
}

// segmentStream opens s's frames for reading.
func (r *localReader) segmentStream(s localSegment) (*frameReader, func(), error) {
	if !s.gz {
		return newFrameReader(io.NewSectionReader(s.f, s.start, s.end-s.start), s.start, s.end-s.start), func() {}, nil
	}
	zr, err := gzip.NewReader(io.NewSectionReader(s.f, 0, 1<<62))
	if err != nil {
		return nil, nil, err
	}
	return newFrameReader(zr, 0, -1), func() { zr.Close() }, nil
}

// readSegment sends the entries of s. A frame that cannot be split off
// ends the file (what follows it cannot be found); an entry that does not
// decode is skipped. Both are reported as corruption.
func (r *localReader) readSegment(s localSegment) error {
	fr, closeFn, err := r.segmentStream(s)
	if err != nil {
		r.reportCorrupt(&CorruptError{Path: s.f.Name(), Err: err})
		return nil
	}
	defer closeFn()
	for i := 0; i < s.skip; i++ {
		if err := fr.skip(); err != nil {
			r.reportFrameErr(s.f.Name(), fr.off, err)
			return nil
		}
	}
	for !r.stopped {
		at := fr.off
		payload, err := fr.next()
		if err != nil {
			r.reportFrameErr(s.f.Name(), at, err)
			return nil
		}
		r.frame(s.f.Name(), at, payload)
	}
	return nil
}

func (r *localReader) reportFrameErr(name string, off int64, err error) {
	if errors.Is(err, io.EOF) {
		return
	}
	r.reportCorrupt(&CorruptError{Path: name, Offset: off, Err: err})
}

// frame decodes one payload and sends it.
func (r *localReader) frame(name string, off int64, payload []byte) {
	e, err := decodeLocalEntry(payload)
	if err != nil {
		r.reportCorrupt(&CorruptError{Path: name, Offset: off, Err: err})
		return
	}
	r.send(e.message())
}
