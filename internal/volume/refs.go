package volume

import (
	"context"
	"errors"
	"fmt"
)

// Acquire records that container ref uses the volume, running or not: a
// referenced volume cannot be removed or pruned, and is not dangling.
// Taking a reference twice is the same as once.
func (s *Store) Acquire(name, ref string) error {
	v, err := s.lockVolume(name)
	if err != nil {
		return err
	}
	defer v.op.Unlock()
	s.mu.Lock()
	v.refs[ref] = struct{}{}
	s.mu.Unlock()
	return nil
}

// Release drops container ref's reference to the volume (the container
// is being removed). Its mounts, if any are left, still count until
// Unmount. Releasing what is not held, or a volume that is gone, is not
// an error.
func (s *Store) Release(name, ref string) error {
	v, err := s.lockVolume(name)
	if err != nil {
		return nil
	}
	defer v.op.Unlock()
	s.mu.Lock()
	delete(v.refs, ref)
	s.mu.Unlock()
	return nil
}

// SetReferences replaces every volume's references at daemon start,
// since they are not stored: refs maps a volume name to the containers
// that use it (in any state), running to those of them running now,
// whose mounts of volumes with options are still in place (live
// restore): they count as if Mount had been called for each entry.
// A volume with options that is mounted but has no running user is
// unmounted. Names of volumes that do not exist are ignored (a container
// can outlive a force-removed volume).
func (s *Store) SetReferences(ctx context.Context, refs, running map[string][]string) error {
	s.mu.Lock()
	vols := make([]*vol, 0, len(s.vols))
	for _, v := range s.vols {
		if !v.pending {
			vols = append(vols, v)
		}
	}
	for name := range refs {
		if s.lookup(name) == nil {
			s.log.WarnContext(ctx, "volume store: reference to a missing volume ignored", "volume", name, "refs", refs[name])
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, v := range vols {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := v.rec.Name
		v.op.Lock()
		s.mu.Lock()
		v.refs = map[string]struct{}{}
		for _, r := range refs[name] {
			v.refs[r] = struct{}{}
		}
		v.mounts = map[string]int{}
		for _, r := range running[name] {
			v.mounts[r]++
		}
		users := len(v.mounts)
		s.mu.Unlock()
		switch {
		case v.mounted && users == 0:
			if err := s.unmountData(v); err != nil {
				errs = append(errs, fmt.Errorf("volume %s: %w", name, err))
			}
		case !v.mounted && users > 0 && needsMount(v.rec.Options):
			// The running containers keep the mount they were started
			// with; the next Mount makes a new one, which for tmpfs is
			// a new, empty filesystem.
			s.log.WarnContext(ctx, "volume store: volume used by running containers is not mounted", "volume", name, "containers", running[name])
		}
		v.op.Unlock()
	}
	return errors.Join(errs...)
}
