package logs

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// LocalWriter writes docker's local format (see local_entry.go) with its
// rotation: before an entry is written, a file that has reached max-size
// becomes container.log.1 (the older ones shift up, the oldest beyond
// max-file goes), and with compress container.log.1 is then gzip'ed to
// container.log.1.gz in the background, as docker does; the next rotation
// waits for that compression.
//
// Lines are stored without their newline, as docker's copier hands them
// over. A line that came in several Messages (Partial: longer than the
// shim's split size, or cut by the end of the stream) is written as
// docker writes it: chunks marked partial, with one random id, ordinals
// from 1, the time of the first chunk, and last set on the chunk that
// ends with the newline.
//
// Each entry is one write(2), so a reader in another process sees whole
// frames except, at most, the one being written.
type LocalWriter struct {
	mu     sync.Mutex
	path   string
	opts   localOpts
	f      *os.File
	size   int64
	last   time.Time // time of f's last entry, for the gzip header
	groups []partialGroup
	buf    []byte        // reused encoding buffer
	zdone  chan struct{} // closed when the running compression ends
	closed bool
}

// partialGroup is a stream's line in progress.
type partialGroup struct {
	stream  string
	id      string
	ordinal int32
	time    time.Time
}

// NewLocalWriter opens (or creates, mode 0640, in a directory it creates
// with mode 0700 if missing) the log at path for appending. opts are
// docker's local options (max-size, max-file, compress). A last entry
// torn by a crash is cut off, and a rotated file whose compression a
// crash interrupted is compressed again.
func NewLocalWriter(path string, opts map[string]string) (*LocalWriter, error) {
	o, err := parseLocalOpts(opts)
	if err != nil {
		return nil, err
	}
	// Not MkdirAll: the container's own directory must already exist.
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	w := &LocalWriter{path: path, opts: o}
	if err := w.open(); err != nil {
		return nil, err
	}
	if o.compress {
		if _, err := os.Stat(path + ".1"); err == nil {
			w.compress(time.Time{})
		}
	}
	return w, nil
}

func (w *LocalWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	size, err := intactEnd(w.path, fi.Size())
	if err == nil && size != fi.Size() {
		slog.Warn("container log: cutting off a torn last entry", "path", w.path, "at", size, "size", fi.Size())
		err = f.Truncate(size)
	}
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, size
	return nil
}

// intactEnd is where the whole frames of the file at path end. The last
// frame is checked from the end (cheap, and right unless a crash tore
// it); only if it does not hold is the file walked from the start.
func intactEnd(path string, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, n, ok, err := tailFrames(f, size, 1); err != nil || (ok && n == 1) {
		return size, err
	}
	_, end, _, err := countFrames(newFrameReader(io.NewSectionReader(f, 0, size), 0, size))
	return end, err
}

// WriteMessage appends m; a zero m.Time is the current time.
func (w *LocalWriter) WriteMessage(m Message) error {
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	complete := bytes.HasSuffix(m.Line, []byte{'\n'})
	if !complete && len(m.Line) == 0 {
		return nil // nothing, and no line ended
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fs.ErrClosed
	}
	e := localEntry{source: m.Stream, line: m.Line}
	if complete {
		e.line = m.Line[:len(m.Line)-1]
	}
	// The line's group, as it will be once this entry is written.
	g := w.group(m.Stream)
	next := *g
	var meta partialMeta
	switch {
	case !complete:
		if next.id == "" {
			next.id, next.ordinal, next.time = newPartialID(), 1, m.Time
		}
		meta = partialMeta{id: next.id, ordinal: next.ordinal}
		next.ordinal++
		e.partial, e.meta, m.Time = true, &meta, next.time
	case next.id != "":
		meta = partialMeta{id: next.id, ordinal: next.ordinal, last: true}
		e.partial, e.meta, m.Time = true, &meta, next.time
		next = partialGroup{stream: g.stream}
	}
	e.timeNano = m.Time.UnixNano()

	w.buf = appendLocalFrame(w.buf[:0], &e)
	if len(w.buf)-2*frameLenSize > maxLocalEntry {
		// docker's reader would refuse it (the shim splits lines long
		// before this).
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "log entry of %d bytes is larger than %d", len(w.buf)-2*frameLenSize, maxLocalEntry)
	}
	*g = next
	if w.size > 0 && w.size >= w.opts.maxSize {
		if err := w.rotate(); err != nil {
			return fmt.Errorf("rotate %s: %w", w.path, err)
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	w.last = m.Time
	if cap(w.buf) > maxKeptBuffer {
		w.buf = nil
	}
	return err
}

func (w *LocalWriter) group(stream string) *partialGroup {
	for i := range w.groups {
		if w.groups[i].stream == stream {
			return &w.groups[i]
		}
	}
	w.groups = append(w.groups, partialGroup{stream: stream})
	return &w.groups[len(w.groups)-1]
}

// newPartialID is docker's stringid.GenerateRandomID: 32 random bytes in
// hex.
func newPartialID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// rotate moves the files along, under the directory lock
// (rotateLocked), and starts compressing the file it rotated out.
func (w *LocalWriter) rotate() error {
	w.waitCompress()
	f, shifted, err := rotateLocked(w.path, w.f, w.shift)
	if err != nil {
		return err
	}
	w.f, w.size = f, 0
	if shifted && w.opts.compress && w.opts.maxFiles >= 2 {
		w.compress(w.last)
	}
	return nil
}

// shift moves the files one number up (rotate.go).
func (w *LocalWriter) shift() error {
	ext := ""
	if w.opts.compress {
		ext = ".gz"
	}
	return shiftRotated(w.path, w.opts.maxFiles, ext)
}

// compress gzips path.1 in the background; w.mu is held.
func (w *LocalWriter) compress(last time.Time) {
	done := make(chan struct{})
	w.zdone = done
	go func() {
		defer close(done)
		if err := compressRotated(w.path+".1", last); err != nil {
			slog.Error("container log: compressing a rotated file", "path", w.path+".1", "err", err)
		}
	}()
}

func (w *LocalWriter) waitCompress() {
	if w.zdone != nil {
		<-w.zdone
		w.zdone = nil
	}
}

// Close closes the file, after any compression in progress; later writes
// fail.
func (w *LocalWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.f.Close()
	w.waitCompress()
	return err
}
