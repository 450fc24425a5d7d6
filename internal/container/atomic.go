package container

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/atomicfile"
)

// tempPrefix starts the name of a record being written.
const tempPrefix = ".tmp-"

// writeFileAtomic replaces path with data (see atomicfile); without
// durableRename the directory is not fsynced, so a crash may leave the
// previous content, never a mix. On any error (a full disk included) path
// keeps its old content and the temporary file is gone.
func writeFileAtomic(path string, data []byte, perm os.FileMode, durableRename bool) error {
	opts := []atomicfile.Option{atomicfile.WithTempPrefix(tempPrefix)}
	if !durableRename {
		opts = append(opts, atomicfile.WithoutDirSync())
	}
	return atomicfile.Write(path, data, perm, opts...)
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
