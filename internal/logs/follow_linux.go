package logs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// follow reads entries appended to cur from off, and moves to the new
// file whenever the log rotates, until the context ends, Until is passed,
// or Done is closed (then after reading what remains). cur may be nil when
// nothing was logged yet. Waiting is on inotify, never on a timer.
func (r *reader) follow(cur *os.File, off int64) error {
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	w, err := watchDir(filepath.Dir(r.path), filepath.Base(r.path))
	if err != nil {
		return err
	}
	defer w.close()
	// Events queue from here on, so a write after the history was read but
	// before the first wait still wakes us; each round reads and checks for
	// rotation before it waits.
	fw := newFollowWait(r.opts.Done, r.opts.Until)
	defer fw.stop()
	var pending []byte
	for {
		if cur != nil {
			if off, pending, err = r.drain(cur, off, pending); err != nil {
				return err
			}
			if r.stopped {
				return nil
			}
		}
		next, rotated, err := r.checkRotation(cur)
		if err != nil {
			return err
		}
		if rotated {
			if cur != nil {
				// The writer closes a file before it rotates it away:
				// what is in it now is all there will be.
				if off, pending, err = r.drain(cur, off, pending); err != nil {
					return err
				}
				if len(pending) > 0 {
					r.entry(cur.Name(), off, pending)
					pending = nil
				}
				if err := r.readRotatedBetween(cur, next); err != nil {
					return err
				}
				cur.Close()
			}
			cur, off, pending = next, 0, nil
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

// drain sends the complete entries of f from off on; an unterminated
// tail is kept in pending for the next round.
func (r *reader) drain(f *os.File, off int64, pending []byte) (int64, []byte, error) {
	var buf [64 << 10]byte
	for {
		n, err := f.ReadAt(buf[:], off)
		if n > 0 {
			off += int64(n)
			data := buf[:n]
			lineOff := off - int64(n) - int64(len(pending))
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					pending = append(pending, data...)
					break
				}
				line := data[:i+1]
				if len(pending) > 0 {
					line = append(pending, line...)
					pending = pending[:0]
				}
				r.entry(f.Name(), lineOff, line)
				lineOff += int64(len(line))
				data = data[i+1:]
				if r.stopped {
					return off, pending, nil
				}
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			return off, pending, nil
		}
		if err != nil {
			return off, pending, err
		}
	}
}

// checkRotation reports whether the path names a file other than cur
// (rotated, or created after nothing was logged) and opens it.
func (r *reader) checkRotation(cur *os.File) (*os.File, bool, error) {
	f, err := os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Between the writer's unlink and create (max-file=1), or before
		// the first entry: wait for the create event.
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if cur != nil {
		a, err1 := f.Stat()
		b, err2 := cur.Stat()
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			f.Close()
			return nil, false, nil
		}
	}
	return f, true, nil
}

// readRotatedBetween reads in full, oldest first, the rotated files newer
// than old and older than next (the file the follower moves to): when the
// log rotates more than once between two wake-ups, old is path.k and
// path.(k-1) ... path.1 were never seen; and by now next itself may have
// been rotated to path.j. When old is gone altogether (rotated out, or
// max-file=1), every rotated file older than next is unseen.
func (r *reader) readRotatedBetween(old, next *os.File) error {
	ofi, err := old.Stat()
	if err != nil {
		return err
	}
	var nfi os.FileInfo
	if next != nil {
		if nfi, err = next.Stat(); err != nil {
			return err
		}
	}
	newer, err := scanRotated(r.path, nil, func(fi os.FileInfo) bool { return os.SameFile(fi, ofi) })
	if err != nil {
		return err
	}
	defer closeAll(nil, newer)
	if nfi != nil {
		// Files newer than next (met before it) are not ours to read.
		for i, f := range newer {
			if fi, err := f.Stat(); err == nil && os.SameFile(fi, nfi) {
				closeAll(nil, newer[:i+1])
				newer = newer[i+1:]
				break
			}
		}
	}
	for i := len(newer) - 1; i >= 0; i-- {
		fi, err := newer[i].Stat()
		if err != nil {
			return err
		}
		end, err := lastNewline(newer[i], fi.Size())
		if err != nil {
			return err
		}
		if err := r.readSegment(segment{f: newer[i], end: end}); err != nil || r.stopped {
			return err
		}
	}
	return nil
}

// dirWatch wakes a follower when a file of the log changes.
type dirWatch struct {
	f    *os.File
	wake chan struct{}
}

func watchDir(dir, base string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
		unix.IN_DELETE | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	// Non-blocking, so reads wait in the runtime's poller, not in a thread.
	w := &dirWatch{f: os.NewFile(uintptr(fd), "inotify:"+dir), wake: make(chan struct{}, 1)}
	go w.pump(base)
	return w, nil
}

// pump turns inotify events about the log's files into wake-ups; other
// files of the directory (a container's config) are ignored.
func (w *dirWatch) pump(base string) {
	buf := make([]byte, 16<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		relevant := false
		for p := 0; p+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[p]))
			name := buf[p+unix.SizeofInotifyEvent : p+unix.SizeofInotifyEvent+int(ev.Len)]
			name = bytes.TrimRight(name, "\x00")
			if len(name) == 0 || strings.HasPrefix(string(name), base) || ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				relevant = true
			}
			p += unix.SizeofInotifyEvent + int(ev.Len)
		}
		if relevant {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (w *dirWatch) close() { w.f.Close() }
