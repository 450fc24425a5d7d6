package volume

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
)

// CreateOptions are what POST /volumes/create carries, plus a reference.
type CreateOptions struct {
	// Name is the volume's name; empty creates an anonymous volume with
	// a random 64-hex name and the AnonymousLabel.
	Name string
	// Driver is "local" or empty (the default, local).
	Driver string
	// DriverOpts are the local driver's options: type, device, o.
	DriverOpts map[string]string
	Labels     map[string]string
	// Reference, when not empty, is taken on the volume (new or
	// existing) in the same step, so that no prune can remove it
	// between Create and the container's Acquire: the container's ID.
	Reference string
}

// Create makes a volume, or returns the existing one of that name, as
// docker does, so that `-v name:/path` and repeated `volume create` both
// work: an existing volume is returned whatever labels are asked for
// (docker ignores them too), and whatever options if none are asked for;
// asking for other options than the volume has is a Conflict. Name,
// driver and options are checked before anything is written.
func (s *Store) Create(ctx context.Context, o CreateOptions) (Volume, error) {
	rec := record{
		Name:    o.Name,
		Driver:  DriverLocal,
		Options: maps.Clone(o.DriverOpts),
		Labels:  maps.Clone(o.Labels),
	}
	if rec.Name == "" {
		rec.Name = randomName()
		rec.Anonymous = true
		if rec.Labels == nil {
			rec.Labels = map[string]string{}
		}
		rec.Labels[AnonymousLabel] = ""
	} else if err := validateName(rec.Name); err != nil {
		return Volume{}, err
	}
	if err := checkDriver(rec.Name, o.Driver); err != nil {
		return Volume{}, err
	}
	if err := validateOptions(rec.Name, rec.Options); err != nil {
		return Volume{}, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return Volume{}, err
		}
		s.mu.Lock()
		existing := s.vols[rec.Name]
		if existing == nil {
			v := &vol{rec: rec, dir: filepath.Join(s.root, rec.Name), pending: true,
				refs: map[string]struct{}{}, mounts: map[string]int{}}
			v.op.Lock()
			s.vols[rec.Name] = v
			s.mu.Unlock()
			return s.createNew(v, o.Reference)
		}
		s.mu.Unlock()
		v, err := s.lockVolume(rec.Name)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile: create it
		}
		if err != nil {
			return Volume{}, err
		}
		out, err := s.reuse(v, o)
		v.op.Unlock()
		return out, err
	}
}

// checkDriver accepts the local driver only; any other is a plugin
// Berth does not have, which docker reports as not found.
func checkDriver(name, driver string) error {
	if driver == "" || driver == DriverLocal {
		return nil
	}
	return errdefs.Errorf(errdefs.ErrNotFound,
		"create %s: error looking up volume plugin %s: plugin %q not found", name, driver, driver)
}

// reuse answers a Create for a volume that exists. Caller holds v.op.
func (s *Store) reuse(v *vol, o CreateOptions) (Volume, error) {
	if len(o.DriverOpts) > 0 && !maps.Equal(o.DriverOpts, v.rec.Options) {
		return Volume{}, errdefs.Errorf(errdefs.ErrConflict,
			"create %s: volume name must be unique: a volume of this name exists with other driver options", v.rec.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Reference != "" {
		v.refs[o.Reference] = struct{}{}
	}
	return v.view(), nil
}

// createNew writes a new volume, v, which is in the map as pending with
// its op lock held; it publishes or drops it and unlocks.
func (s *Store) createNew(v *vol, ref string) (Volume, error) {
	defer v.op.Unlock()
	v.rec.CreatedAt = time.Now()
	err := s.writeVolume(v.rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.vols, v.rec.Name)
		return Volume{}, err
	}
	v.pending = false
	if ref != "" {
		v.refs[ref] = struct{}{}
	}
	return v.view(), nil
}

// writeVolume builds the volume's directory under a temporary name and
// renames it into place: after a crash the volume is whole or absent
// (Open removes the temporary one).
func (s *Store) writeVolume(rec record) (err error) {
	tmpName := creatingPrefix + randomSuffix()
	tmp := filepath.Join(s.root, tmpName)
	if err := os.Mkdir(tmp, 0o701); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = removeTree(s.root, tmpName)
		}
	}()
	if err := os.Mkdir(filepath.Join(tmp, dataDir), 0o755); err != nil {
		return err
	}
	if err := writeRecord(tmp, rec); err != nil {
		return err
	}
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, filepath.Join(s.root, rec.Name), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		// A directory this store did not load (a record it could not
		// read) holds the name: leave it for an administrator.
		return errdefs.Errorf(errdefs.ErrConflict,
			"create %s: %s exists but is not a volume this engine can read", rec.Name, filepath.Join(s.root, rec.Name))
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: filepath.Join(s.root, rec.Name), Err: err}
	}
	// The volume is in place: a failed fsync of the root only means a
	// crash now could lose it, which is no reason to report it missing.
	if err := atomicfile.SyncDir(s.root); err != nil {
		s.log.Warn("volume store: fsync of the root failed", "volume", rec.Name, "err", err)
	}
	return nil
}
