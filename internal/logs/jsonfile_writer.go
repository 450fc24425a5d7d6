package logs

import (
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// JSONFileWriter writes docker's json-file format with its rotation:
// before an entry is written, a file that has reached max-size is rotated
// (file.log -> file.log.1 -> ... up to max-file files; with max-file 1 the
// file is replaced by an empty one), so a file can exceed max-size by one
// entry, as docker's can.
//
// Each entry is one write(2), so a reader in another process sees whole
// lines except, at most, the one being written.
type JSONFileWriter struct {
	mu     sync.Mutex
	path   string
	opts   jsonFileOpts
	f      *os.File
	size   int64
	buf    []byte // reused encoding buffer: the shim must not churn its heap
	attrs  []byte // the "attrs" object of every entry (ExtraAttrs), or nil
	closed bool
}

// NewJSONFileWriter opens (or creates, mode 0640) the log at path for
// appending. opts are docker's json-file options (max-size, max-file,
// compress=false).
func NewJSONFileWriter(path string, opts map[string]string) (*JSONFileWriter, error) {
	return newJSONFileWriter(path, opts, nil)
}

// newJSONFileWriter is NewJSONFileWriter with attributes for every entry.
func newJSONFileWriter(path string, opts, attrs map[string]string) (*JSONFileWriter, error) {
	o, err := parseJSONFileOpts(opts)
	if err != nil {
		return nil, err
	}
	encoded, err := encodeAttrs(attrs)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &JSONFileWriter{path: path, opts: o, f: f, size: fi.Size(), attrs: encoded}, nil
}

// WriteMessage appends m; a zero m.Time is the current time.
func (w *JSONFileWriter) WriteMessage(m Message) error {
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fs.ErrClosed
	}
	if w.opts.maxSize > 0 && w.size >= w.opts.maxSize {
		if err := w.rotate(); err != nil {
			return fmt.Errorf("rotate %s: %w", w.path, err)
		}
	}
	w.buf = appendEntry(w.buf[:0], m, w.attrs)
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if cap(w.buf) > maxKeptBuffer {
		// One huge line must not pin its buffer for the container's life.
		w.buf = nil
	}
	return err
}

// maxKeptBuffer bounds the encoding buffer kept between writes; a 16 KiB
// line (the shim's split size) encodes within it unless full of escapes.
const maxKeptBuffer = 64 << 10

// rotate closes the current file, shifts the rotated ones and starts an
// empty file, under the directory lock (rotateLocked): two rotations
// during one unlocked scan could show a reader two missing names in a
// row, and it would stop short of files it had not read.
func (w *JSONFileWriter) rotate() error {
	f, _, err := rotateLocked(w.path, w.f, w.shift)
	if err != nil {
		return err
	}
	w.f, w.size = f, 0
	return nil
}

// shift moves the files one number up (rotate.go).
func (w *JSONFileWriter) shift() error { return shiftRotated(w.path, w.opts.maxFiles, "") }

// Close closes the file; later writes fail.
func (w *JSONFileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.f.Close()
}
