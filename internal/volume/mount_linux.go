package volume

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/mount"
)

// Mount makes the volume ready for container ref and returns the host
// directory to bind into it (<root>/<name>/_data). For a volume with
// options, the first Mount mounts its device on _data and later ones
// share it; every Mount counts until its Unmount. Mount also takes ref's
// reference (see Acquire).
func (s *Store) Mount(ctx context.Context, name, ref string) (string, error) {
	v, err := s.lockVolume(name)
	if err != nil {
		return "", err
	}
	defer v.op.Unlock()
	if needsMount(v.rec.Options) && !v.mounted {
		if err := s.mountData(ctx, v); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	v.refs[ref] = struct{}{}
	v.mounts[ref]++
	s.mu.Unlock()
	return v.dataPath(), nil
}

// Unmount undoes one Mount by ref; after the last Mount of any container
// is undone, a volume with options is unmounted. The count drops even if
// the unmount fails, as docker's does: the error is reported, and the
// next Mount reuses what is still mounted. ref keeps its reference until
// Release. Unmounting what ref never mounted does nothing.
func (s *Store) Unmount(ctx context.Context, name, ref string) error {
	v, err := s.lockVolume(name)
	if err != nil {
		return err
	}
	defer v.op.Unlock()
	s.mu.Lock()
	n := v.mounts[ref]
	switch {
	case n > 1:
		v.mounts[ref] = n - 1
	case n == 1:
		delete(v.mounts, ref)
	default:
		s.mu.Unlock()
		s.log.WarnContext(ctx, "volume store: unmount without a mount", "volume", name, "ref", ref)
		return nil
	}
	last := len(v.mounts) == 0
	s.mu.Unlock()
	if last && v.mounted {
		return s.unmountData(v)
	}
	return nil
}

// mountData mounts v's device on its _data. Caller holds v.op.
func (s *Store) mountData(ctx context.Context, v *vol) error {
	m, err := mountFor(ctx, s.res, v.rec.Options)
	if err != nil {
		return fmt.Errorf("failed to mount local volume: %w", err)
	}
	if err := m.Mount(v.dataPath()); err != nil {
		return fmt.Errorf("failed to mount local volume: %w", maskPassword(err, v.rec.Options[optO]))
	}
	v.mounted = true
	return nil
}

// unmountData detaches whatever is mounted on v's _data, as docker does
// (lazily: a file still open on the host keeps the filesystem alive, not
// the mount). Caller holds v.op.
func (s *Store) unmountData(v *vol) error {
	if err := mount.UnmountAll(v.dataPath(), unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount volume %s: %w", v.rec.Name, err)
	}
	v.mounted = false
	return nil
}
