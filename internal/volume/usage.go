package volume

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	volumetypes "github.com/moby/moby/api/types/volume"
)

// Usage returns the size of a volume's data as docker's system df counts
// it: the apparent size of every file, a file with several hard links
// once, directories not at all.
func (s *Store) Usage(ctx context.Context, name string) (int64, error) {
	s.mu.Lock()
	v := s.lookup(name)
	s.mu.Unlock()
	if v == nil {
		return 0, noSuchVolume(name)
	}
	return diskUsage(ctx, v.dataPath())
}

// DiskUsage is the volumes part of GET /system/df: every volume without
// options (the others are not really local, and docker leaves them out
// too) with its size and reference count.
func (s *Store) DiskUsage(ctx context.Context) ([]volumetypes.Volume, error) {
	vols := s.find(&matcher{})
	out := make([]volumetypes.Volume, 0, len(vols))
	for _, v := range vols {
		if len(v.Options) > 0 {
			continue
		}
		size, err := s.Usage(ctx, v.Name)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			size = -1 // removed meanwhile or unreadable: docker shows -1
		}
		api := v.API()
		api.UsageData = &volumetypes.UsageData{Size: size, RefCount: int64(v.RefCount)}
		out = append(out, api)
	}
	return out, nil
}

// diskUsage sums the apparent sizes under dir, each inode once, without
// following symlinks.
func diskUsage(ctx context.Context, dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]struct{}{}
	var size int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walked: no longer counts
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if _, dup := seen[key]; dup {
				return nil
			}
			seen[key] = struct{}{}
		}
		size += fi.Size()
		return nil
	})
	return size, err
}
