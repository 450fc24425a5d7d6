package logs

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
)

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
