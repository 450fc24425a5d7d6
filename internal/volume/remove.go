package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
)

// Remove deletes a volume and its data. A volume any container
// references or has mounted is a Conflict, force or not, as in docker;
// force only makes a missing volume no error (docker volume rm -f). A
// volume with options is unmounted first, and nothing is deleted across a
// mount point: a bind-mounted device keeps its files.
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	v, err := s.lockVolume(name)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	defer v.op.Unlock()
	return s.remove(ctx, v)
}

// remove deletes v. Caller holds v.op.
func (s *Store) remove(ctx context.Context, v *vol) error {
	name := v.rec.Name
	s.mu.Lock()
	users := v.users()
	s.mu.Unlock()
	if len(users) > 0 {
		return errdefs.Errorf(errdefs.ErrConflict, "remove %s: volume is in use - [%s]", name, strings.Join(users, ", "))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if v.mounted {
		if err := s.unmountData(v); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	// Whatever the record says, never delete through a mount: something
	// may have been mounted on _data behind the store's back.
	mounted, err := isMountPoint(v.dataPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if mounted {
		return fmt.Errorf("remove %s: %s is a mount point: %w", name, v.dataPath(), errMountInside)
	}
	// Renamed out of the namespace first: from here the volume is gone,
	// for a crash too (Open removes the leftover).
	tmp := removingPrefix + randomSuffix()
	if err := os.Rename(v.dir, filepath.Join(s.root, tmp)); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	s.mu.Lock()
	delete(s.vols, name)
	s.mu.Unlock()
	if err := atomicfile.SyncDir(s.root); err != nil {
		s.log.WarnContext(ctx, "volume store: fsync of the root failed", "volume", name, "err", err)
	}
	if err := removeTree(s.root, tmp); err != nil {
		s.log.WarnContext(ctx, "volume store: removed volume's files left for the next start", "volume", name, "err", err)
	}
	return nil
}
