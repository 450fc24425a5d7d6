package logs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// drainState is how a drain of the current file ended.
type drainState int

const (
	drainedAll  drainState = iota // at a frame boundary
	drainedPart                   // inside a frame still being written
	drainedLost                   // at bytes that are not a frame: the rest of the file is lost
)

// follow reads entries appended to cur from off, and moves to the new
// file whenever the log rotates, until the context ends, Until is passed,
// or Done is closed (then after reading what remains). cur may be nil
// when nothing was logged yet. Waiting is on inotify, never on a timer;
// see follow_linux.go, whose json-file follower this mirrors.
func (r *localReader) follow(cur *os.File, off int64, state drainState) error {
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	dir := filepath.Dir(r.path)
	if r.dir == nil {
		// Nothing was logged yet; the writer creates the directory as
		// docker's does (0700), and so may the first reader.
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		dl, err := openDirLock(dir)
		if err != nil {
			return err
		}
		r.dir = dl
	}
	w, err := watchDir(dir, filepath.Base(r.path))
	if err != nil {
		return err
	}
	defer w.close()
	fw := newFollowWait(r.opts.Done, r.opts.Until)
	defer fw.stop()
	known := r.newest // the newest file read so far
	for {
		if cur != nil && state != drainedLost {
			if off, state, err = r.drain(cur, off); err != nil {
				return err
			}
			if r.stopped {
				return nil
			}
		}
		next, missed, err := r.checkRotation(cur, known)
		if err != nil {
			return err
		}
		if next != nil {
			if cur != nil {
				// The writer closes a file before it rotates it away:
				// what is in it now is all there will be.
				if state != drainedLost {
					if off, state, err = r.drain(cur, off); err != nil {
						closeLogFiles(missed)
						next.Close()
						return err
					}
					if state == drainedPart {
						r.reportCorrupt(&CorruptError{Path: cur.Name(), Offset: off, Err: io.ErrUnexpectedEOF})
					}
				}
				cur.Close()
			}
			err := r.readMissed(missed)
			closeLogFiles(missed)
			cur, off, state = next, 0, drainedAll
			if err != nil {
				return err
			}
			fi, err := cur.Stat()
			if err != nil {
				return err
			}
			known = inodeOf(fi)
			if r.stopped {
				return nil
			}
			continue
		}
		if !fw.next(r.ctx, w.wake) {
			return nil
		}
	}
}

// drain sends the whole frames of f from off on and says where they end
// and how.
func (r *localReader) drain(f *os.File, off int64) (int64, drainState, error) {
	// One reader for the whole follow: a drain runs at every wake-up.
	if r.tail == nil {
		r.tail = newFrameReader(io.NewSectionReader(f, off, 1<<62), off, -1)
	} else {
		r.tail.reset(io.NewSectionReader(f, off, 1<<62), off, -1)
	}
	fr := r.tail
	for !r.stopped {
		at := fr.off
		payload, err := fr.next()
		switch {
		case err == nil:
			r.frame(f.Name(), at, payload)
		case errors.Is(err, io.EOF):
			return at, drainedAll, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return at, drainedPart, nil
		case errors.Is(err, errFrameTooLarge), errors.Is(err, errFrameMismatch):
			r.reportCorrupt(&CorruptError{Path: f.Name(), Offset: at, Err: err})
			return at, drainedLost, nil
		default:
			return at, drainedAll, err
		}
	}
	return fr.off, drainedAll, nil
}

// checkRotation reports whether the log's name points to a file other
// than cur (rotated, or created after nothing was logged): if so it
// returns that file, and the rotated files newer than known (the identity
// of the newest file read) that the follower has not seen, newest first.
// They are opened under the directory lock, so the set is consistent.
//
// known's file is found again by identity: a plain file's inode, or the
// inode a .gz's header records. The follower holds known's file open, so
// its inode cannot be reused by a newer file; an older file may carry the
// same number, but the scan goes newest first and stops at the first
// match. When known is not found (it was rotated out altogether), every
// rotated file is newer.
func (r *localReader) checkRotation(cur *os.File, known uint64) (*os.File, []*logFile, error) {
	if err := r.dir.lock(false); err != nil {
		return nil, nil, err
	}
	next, err := openIfExists(r.path)
	if err != nil || next == nil {
		// Between the writer's unlink and create (max-file=1), or before
		// the first entry: wait for the create event.
		r.dir.unlock()
		return nil, nil, err
	}
	if cur != nil {
		a, err1 := next.Stat()
		b, err2 := cur.Stat()
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			r.dir.unlock()
			next.Close()
			return nil, nil, nil
		}
	}
	rotated, err := openRotatedSet(r.path)
	r.dir.unlock()
	if err != nil {
		next.Close()
		return nil, nil, err
	}
	for i := range rotated {
		if err := r.identify(rotated[i : i+1]); err != nil {
			closeLogFiles(rotated)
			next.Close()
			return nil, nil, err
		}
		if known != 0 && rotated[i].ino == known {
			closeLogFiles(rotated[i:])
			rotated = rotated[:i]
			break
		}
	}
	return next, rotated, nil
}

// readMissed reads in full, oldest first, rotated files the follower
// never saw as the current file.
func (r *localReader) readMissed(missed []*logFile) error {
	for i := len(missed) - 1; i >= 0 && !r.stopped; i-- {
		s := localSegment{f: missed[i].f, gz: missed[i].gz}
		if !s.gz {
			fi, err := s.f.Stat()
			if err != nil {
				return err
			}
			s.end = fi.Size()
		}
		if err := r.readSegment(s); err != nil {
			return err
		}
	}
	return nil
}
