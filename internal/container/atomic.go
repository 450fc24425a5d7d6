package container

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/atomicfile"
)

// tempPrefix starts the name of a record being written.
const tempPrefix = ".tmp-"

// syncLevel is how much of a record write reaches the disk before it
// returns.
type syncLevel int

const (
	syncNothing syncLevel = iota // no flush, written in place: a crash may leave the old record, a torn one or none
	syncData                     // the data, not the rename: a crash leaves the old record or the new, whole
	syncAll                      // data and rename: a crash leaves the new record
)

// writeFileAtomic replaces path with data (see atomicfile), flushing as
// level says. On any error (a full disk included) path keeps its old
// content and the temporary file is gone, but with syncNothing, which
// writes in place and may leave it torn.
func writeFileAtomic(path string, data []byte, perm os.FileMode, level syncLevel) error {
	opts := []atomicfile.Option{atomicfile.WithTempPrefix(tempPrefix)}
	switch level {
	case syncNothing:
		return overwrite(path, data, perm)
	case syncData:
		opts = append(opts, atomicfile.WithoutDirSync())
	}
	return atomicfile.Write(path, data, perm, opts...)
}

// overwrite rewrites path in place: no temporary file, so no new inode
// (allocating one is the dearest part of a small write on a busy ext4,
// whose allocator skips recently deleted inodes one by one). For records
// a crash makes moot (syncNothing), which a reader may then find torn.
func overwrite(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, perm)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// removeTemps deletes the leftovers of writes a crash interrupted.
func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}
