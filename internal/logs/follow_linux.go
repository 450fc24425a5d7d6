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
	dir := filepath.Dir(r.path)
	if r.dir == nil {
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
		next, missed, err := r.checkRotation(cur)
		if err != nil {
			return err
		}
		if next != nil {
			if cur != nil {
				// The writer closes a file before it rotates it away:
				// what is in it now is all there will be.
				if off, pending, err = r.drain(cur, off, pending); err != nil {
					closeAll(next, missed)
					return err
				}
				if len(pending) > 0 {
					r.entry(cur.Name(), off, pending)
					pending = nil
				}
				cur.Close()
			}
			err := r.readMissed(missed)
			closeAll(nil, missed)
			cur, off, pending = next, 0, nil
			if err != nil || r.stopped {
				return err
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
// (rotated, or created after nothing was logged): if so it returns that
// file, and the rotated files the follower never saw, newest first: those
// newer than cur, or all of them when cur is nil or was rotated out
// altogether. The follower holds cur open, so its inode is not reused.
// The files are opened under the directory lock: the writer is not
// shifting them meanwhile, so none is missed and next is still the
// newest.
func (r *reader) checkRotation(cur *os.File) (next *os.File, missed []*os.File, err error) {
	var curInfo os.FileInfo
	if cur != nil {
		if curInfo, err = cur.Stat(); err != nil {
			return nil, nil, err
		}
	}
	if err := r.dir.lock(false); err != nil {
		return nil, nil, err
	}
	defer r.dir.unlock()
	next, err = os.Open(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Before the first entry: wait for the create event.
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if curInfo != nil {
		if fi, err := next.Stat(); err == nil && os.SameFile(fi, curInfo) {
			next.Close()
			return nil, nil, nil
		}
	}
	var stop func(os.FileInfo) bool
	if curInfo != nil {
		stop = func(fi os.FileInfo) bool { return os.SameFile(fi, curInfo) }
	}
	if missed, err = scanRotated(r.path, nil, stop); err != nil {
		next.Close()
		return nil, nil, err
	}
	return next, missed, nil
}

// readMissed reads in full, oldest first, rotated files the follower
// never had as its current file: the log rotated more than once between
// two wake-ups.
func (r *reader) readMissed(missed []*os.File) error {
	for i := len(missed) - 1; i >= 0 && !r.stopped; i-- {
		fi, err := missed[i].Stat()
		if err != nil {
			return err
		}
		end, err := lastNewline(missed[i], fi.Size())
		if err != nil {
			return err
		}
		if err := r.readSegment(segment{f: missed[i], end: end}); err != nil {
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
