//go:build linux

package storage

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berth-project/berth/internal/snapshot"
)

// DiskUsage measures dir as du does: each inode once, however many links
// it has, and the blocks it really takes (a sparse file counts its data,
// not its length). dir itself is counted.
func DiskUsage(ctx context.Context, dir string) (snapshot.Usage, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var u snapshot.Usage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return &os.PathError{Op: "stat", Path: path, Err: syscall.ENOTSUP}
		}
		key := inode{uint64(st.Dev), st.Ino}
		if seen[key] {
			return nil
		}
		seen[key] = true
		u.Inodes++
		u.Size += st.Blocks * 512
		return nil
	})
	return u, err
}
