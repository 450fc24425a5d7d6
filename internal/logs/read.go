package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// ReadOptions selects what Read returns.
type ReadOptions struct {
	// Since and Until bound the entries' times (zero: no bound). Entries
	// before Since are skipped; the first entry after Until ends the read,
	// follow included.
	Since, Until time.Time
	// Tail is how many of the last entries to return before following:
	// -1 all of them, 0 none (only new ones, with Follow).
	Tail int
	// Follow keeps reading new entries, across rotations, until ctx ends,
	// Until is passed or Done is closed.
	Follow bool
	// Done, when closed, tells a follower that the container stopped and
	// its output was flushed: the follower reads what remains, then stops.
	// nil never closes.
	Done <-chan struct{}
}

// CorruptError reports an entry that cannot be decoded: a json-file
// line, or a local frame (after which the rest of that file cannot be
// split into entries and is skipped). Read skips it and goes on; the error
// is informational.
type CorruptError struct {
	Path   string
	Offset int64
	Err    error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("log %s: corrupt entry at offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// maxCorruptReports bounds the CorruptErrors one Read reports, so a
// garbage file cannot fill the error channel and hide a real error.
const maxCorruptReports = 8

// Read streams the log of the given driver at path.
//
// msgs delivers entries oldest first and is closed when the read ends.
// errs is closed after msgs; it carries at most a few *CorruptError values
// (lines skipped) and at most one other error, which ended the read early.
// A consumer ranges over msgs, then over errs. Cancelling ctx ends the read
// without an error.
//
// "none" (and any driver that keeps nothing) cannot be read: errs then
// carries a NotImplemented error, as docker's "configured logging driver
// does not support reading".
func Read(ctx context.Context, driver, path string, opts ReadOptions) (<-chan Message, <-chan error) {
	msgs := make(chan Message, 16)
	errs := make(chan error, maxCorruptReports+1)
	s := sink{ctx: ctx, opts: opts, msgs: msgs, errs: errs}
	var run func() error
	var err error
	// The files are opened before Read returns, so a follower sees every
	// entry written after that.
	switch driver {
	case JSONFile, "":
		r := &reader{sink: s, path: path}
		err, run = r.open(), r.run
	case Local:
		r := &localReader{sink: s, path: path}
		err, run = r.open(), r.run
	default:
		err = errdefs.Errorf(errdefs.ErrNotImplemented, "configured logging driver does not support reading")
	}
	go func() {
		defer close(errs)
		defer close(msgs)
		if err == nil {
			err = run()
		}
		if err != nil && ctx.Err() == nil {
			errs <- err
		}
	}()
	return msgs, errs
}

// sink is where a driver's reader sends what it reads: the time filters,
// the channels and the bound on corruption reports, shared by the drivers.
type sink struct {
	ctx     context.Context
	opts    ReadOptions
	msgs    chan<- Message
	errs    chan<- error
	corrupt int
	stopped bool // Until passed or ctx ended: no more entries wanted
}

// send delivers m if it passes the time filters; an entry after Until,
// or a cancelled ctx, stops the read.
func (s *sink) send(m Message) {
	if !s.opts.Since.IsZero() && m.Time.Before(s.opts.Since) {
		return
	}
	if !s.opts.Until.IsZero() && m.Time.After(s.opts.Until) {
		s.stopped = true
		return
	}
	select {
	case s.msgs <- m:
	case <-s.ctx.Done():
		s.stopped = true
	}
}

// reportCorrupt passes on a skipped entry, up to maxCorruptReports.
func (s *sink) reportCorrupt(err *CorruptError) {
	if s.corrupt < maxCorruptReports {
		s.corrupt++
		s.errs <- err
	}
}

// reader reads json-file logs.
type reader struct {
	sink
	path string
	dir  *dirLock // nil while the directory does not exist

	// The snapshot open takes.
	cur     *os.File
	curEnd  int64
	rotated []*os.File
}

// segment is a byte range of one file holding whole entries.
type segment struct {
	f          *os.File
	start, end int64
}

// open takes the snapshot a read starts from: the files, and where the
// complete entries of the current one end.
func (r *reader) open() error {
	dl, err := openDirLock(filepath.Dir(r.path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing logged yet
	}
	if err != nil {
		return err
	}
	if err := dl.lock(false); err != nil {
		dl.close()
		return err
	}
	cur, rotated, err := openSet(r.path)
	dl.unlock()
	if err != nil {
		dl.close()
		return err
	}
	r.dir = dl
	if cur != nil {
		fi, err := cur.Stat()
		if err == nil {
			// The current file may end in an entry still being written;
			// its history stops at the last complete one, and following
			// resumes there.
			r.curEnd, err = lastNewline(cur, fi.Size())
		}
		if err != nil {
			closeAll(cur, rotated)
			dl.close()
			return err
		}
	}
	r.cur, r.rotated = cur, rotated
	return nil
}

func (r *reader) run() error {
	defer func() {
		closeAll(r.cur, r.rotated)
		if r.dir != nil {
			r.dir.close()
		}
	}()
	if r.opts.Tail != 0 {
		segs, err := planHistory(r.cur, r.curEnd, r.rotated, r.opts.Tail)
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
	// follow owns the current file from here (it replaces it on rotation).
	f := r.cur
	r.cur = nil
	return r.follow(f, r.curEnd)
}

// openSet opens the current file and its rotated predecessors path.1,
// path.2, ..., newest first. A missing current file is not an error:
// nothing was logged yet. The caller holds the directory lock, so the
// writer is not shifting the files meanwhile.
func openSet(path string) (cur *os.File, rotated []*os.File, err error) {
	cur, err = os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		cur, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var seen []os.FileInfo
	if cur != nil {
		fi, err := cur.Stat()
		if err != nil {
			cur.Close()
			return nil, nil, err
		}
		seen = append(seen, fi)
	}
	rotated, err = scanRotated(path, seen, nil)
	if err != nil {
		cur.Close()
		return nil, nil, err
	}
	return cur, rotated, nil
}

// scanRotated opens path.1, path.2, ... newest first, skipping files in
// seen. stop, if not nil, is asked about each new file and ends the scan
// (that file not included) when true. The scan ends at the second missing
// name in a row, not the first: a shift the writer could not finish may
// leave a hole.
func scanRotated(path string, seen []os.FileInfo, stop func(os.FileInfo) bool) ([]*os.File, error) {
	var files []*os.File
	missing := 0
	for i := 1; missing < 2; i++ {
		f, err := os.Open(path + "." + strconv.Itoa(i))
		if errors.Is(err, fs.ErrNotExist) {
			missing++
			continue
		}
		missing = 0
		var fi os.FileInfo
		if err == nil {
			fi, err = f.Stat()
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			closeAll(nil, files)
			return nil, err
		}
		if slices.ContainsFunc(seen, func(s os.FileInfo) bool { return os.SameFile(s, fi) }) {
			f.Close()
			continue
		}
		if stop != nil && stop(fi) {
			f.Close()
			break
		}
		seen = append(seen, fi)
		files = append(files, f)
	}
	return files, nil
}

func closeAll(cur *os.File, rotated []*os.File) {
	if cur != nil {
		cur.Close()
	}
	for _, f := range rotated {
		f.Close()
	}
}

// planHistory picks the byte ranges holding the last tail entries (all of
// them when tail < 0), oldest first.
func planHistory(cur *os.File, curEnd int64, rotated []*os.File, tail int) ([]segment, error) {
	// Newest first: the current file, then path.1, path.2, ...
	var files []segment
	if cur != nil {
		files = append(files, segment{f: cur, end: curEnd})
	}
	for _, f := range rotated {
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		end, err := lastNewline(f, fi.Size())
		if err != nil {
			return nil, err
		}
		files = append(files, segment{f: f, end: end})
	}
	var segs []segment
	need := tail
	for _, s := range files {
		if tail >= 0 {
			if need == 0 {
				break
			}
			start, n, err := lastLines(s.f, s.end, need)
			if err != nil {
				return nil, err
			}
			s.start = start
			need -= n
		}
		segs = append(segs, s)
	}
	// Oldest first.
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return segs, nil
}

// readSegment sends the entries of s.
func (r *reader) readSegment(s segment) error {
	br := bufio.NewReaderSize(io.NewSectionReader(s.f, s.start, s.end-s.start), 64<<10)
	off := s.start
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			r.entry(s.f.Name(), off, line)
			off += int64(len(line))
			if r.stopped {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// entry decodes one line (newline included) and sends it if it passes the
// time filters.
func (r *reader) entry(name string, off int64, line []byte) {
	m, err := decodeEntry(bytes.TrimSuffix(line, []byte{'\n'}))
	if err != nil {
		r.reportCorrupt(&CorruptError{Path: name, Offset: off, Err: err})
		return
	}
	r.send(m)
}

// lastNewline returns the offset just past the last '\n' in f[0:end], 0
// when there is none.
func lastNewline(f io.ReaderAt, end int64) (int64, error) {
	var buf [4096]byte
	for pos := end; pos > 0; {
		n := int64(len(buf))
		if n > pos {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return 0, nil
}

// lastLines finds where the last n lines of f[0:end] start; end is 0 or
// just past a '\n'. It returns that offset and how many lines there are
// from it (fewer than n when the file has fewer).
func lastLines(f io.ReaderAt, end int64, n int) (int64, int, error) {
	if end == 0 || n <= 0 {
		return end, 0, nil
	}
	var buf [32 << 10]byte
	found := 0
	// The '\n' ending the last line is not a line start: scan before it.
	for pos := end - 1; pos > 0; {
		size := int64(len(buf))
		if size > pos {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && err != io.EOF {
			return 0, 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			found++
			if found == n {
				return pos + i + 1, n, nil
			}
		}
	}
	return 0, found + 1, nil
}
