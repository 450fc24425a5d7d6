package logs

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
)

// rotateLocked closes cur, runs shift and creates an empty path, the
// shift and the create under the directory lock (dirLock), so a reader
// opening the set of files never meets it half-shifted. cur is closed
// before it is renamed, so a reader that sees the name point to a new
// inode knows the old file is complete. A failed shift is logged, as
// docker does, and the new file is used anyway (shifted false).
func rotateLocked(path string, cur *os.File, shift func() error) (f *os.File, shifted bool, err error) {
	// The directory is opened only now: an idle container costs no
	// extra descriptor.
	dir, err := openDirLock(filepath.Dir(path))
	if err != nil {
		return nil, false, err
	}
	defer dir.close()
	if err := cur.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
		return nil, false, err
	}
	if err := dir.lock(true); err != nil {
		return nil, false, err
	}
	serr := shift()
	// O_TRUNC as docker does, in case the rename did not happen.
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	dir.unlock()
	if err != nil {
		return nil, false, err
	}
	if serr != nil {
		slog.Warn("container log: rotation failed, entries may be lost", "path", path, "err", serr)
	}
	return f, serr == nil, nil
}

// shiftRotated renames path.(i-1)+ext to path.i+ext from the oldest down,
// dropping path.(maxFiles-1)+ext, then path to path.1 (the writer
// compresses that one later, if it does). With fewer than two files the
// current one just goes. Missing names are skipped: the set may not be
// full yet. Both writers call it under the directory lock.
func shiftRotated(path string, maxFiles int, ext string) error {
	if maxFiles < 2 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	name := func(i int) string { return path + "." + strconv.Itoa(i) + ext }
	if err := os.Remove(name(maxFiles - 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := maxFiles - 1; i > 1; i-- {
		if err := os.Rename(name(i-1), name(i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(path, path+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
