//go:build linux

// Package overlay is the overlayfs snapshotter: each snapshot owns one
// directory, the layer it adds, and a snapshot with parents is mounted as
// an overlay of its parents' directories with its own on top.
//
// # Layout
//
//	<root>/metadata.db, lock     the metadata (see package storage)
//	<root>/snapshots/<id>/fs     the snapshot's layer: the upper directory
//	                             while active, a lower one once committed
//	<root>/snapshots/<id>/work   overlayfs's work directory (active only)
//	<root>/l/<id>                a symlink to ../snapshots/<id>/fs
//
// IDs are 26 characters, and lowerdir names each layer by its l/ link
// (as docker's overlay2 does), so mount(2)'s one page of options holds
// about 60 layers under a root like /var/lib/berth/overlay. Past that
// the mount package passes the layers one by one through the new mount
// API ("lowerdir+"), up to overlayfs's limit of 500.
//
// # Mounts
//
//	no parent            bind mount of fs ("rw", or "ro" for a view)
//	view of one layer    read-only bind mount of the parent's fs
//	active with parents  overlay: lowerdir=<parents, nearest first>,
//	                     upperdir=fs, workdir=work
//	view of more layers  overlay: lowerdir only, read-only
package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/internal/storage"
)

const linksDir = "l"

// Snapshotter is the overlayfs snapshotter. Any number of Snapshotters,
// in any number of processes, can share a root.
type Snapshotter struct {
	store   *storage.Store
	options []string // appended to every overlay mount's options
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// Opt is an option of NewSnapshotter.
type Opt func(*config) error

type config struct {
	mountOptions []string
}

// WithMountOptions adds overlayfs options to every overlay mount
// ("metacopy=on", "redirect_dir=on", ...). The layer options (lowerdir,
// upperdir, workdir) are the snapshotter's own: giving one is
// errdefs.ErrInvalidParameter. Bind mounts (snapshots without parents)
// do not get them.
func WithMountOptions(opts ...string) Opt {
	return func(c *config) error {
		c.mountOptions = append(c.mountOptions, opts...)
		return nil
	}
}

// makeConfig applies opts over the defaults and rejects contradictions.
func makeConfig(opts []Opt) (config, error) {
	var c config
	for _, o := range opts {
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	hasIndex, hasRedirect, hasMetacopy := false, false, false
	for _, o := range c.mountOptions {
		key, _, _ := strings.Cut(o, "=")
		switch key {
		case "lowerdir", "upperdir", "workdir", "lowerdir+", "datadir+":
			return config{}, fmt.Errorf("overlay option %q: the snapshotter sets the layers itself: %w", o, errdefs.ErrInvalidParameter)
		case "index":
			hasIndex = true
		case "redirect_dir":
			hasRedirect = true
		case "metacopy":
			hasMetacopy = true
		}
	}
	// Layer diffs (commit, build) are computed from upper directories;
	// with redirect_dir or metacopy, an upper holds references into its
	// lowers instead of the data, which no layer tar can express.
	// Kernels built with those on by default get them off here.
	if !hasRedirect && paramExists("redirect_dir") {
		c.mountOptions = append(c.mountOptions, "redirect_dir=off")
	}
	if !hasMetacopy && paramExists("metacopy") {
		c.mountOptions = append(c.mountOptions, "metacopy=off")
	}
	// With the inodes index on (a kernel default on some builds), an
	// upper directory remembers its lower layers and refuses to be
	// mounted over others; a snapshot's parents never change, but a
	// crashed mount's leftovers would then block the next one.
	if !hasIndex && paramExists("index") {
		c.mountOptions = append(c.mountOptions, "index=off")
	}
	return c, nil
}

// paramExists reports whether this kernel's overlayfs knows the option.
func paramExists(name string) bool {
	_, err := os.Stat("/sys/module/overlay/parameters/" + name)
	return err == nil
}

// NewSnapshotter opens (or makes) the snapshotter at root, an absolute
// path on a filesystem that can hold an overlay's upper directory, and
// deletes what an earlier crash left half made (Cleanup).
//
// Every path under root ends up inside overlay mount options, where ',',
// ':' and '\' have meanings; a root holding one is
// errdefs.ErrInvalidParameter.
func NewSnapshotter(root string, opts ...Opt) (*Snapshotter, error) {
	c, err := makeConfig(opts)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(root, ",:\\") {
		return nil, fmt.Errorf("overlay snapshotter root %q holds one of ',', ':' or '\\', which overlay options cannot carry: %w", root, errdefs.ErrInvalidParameter)
	}
	store, err := storage.Open(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(store.Root(), linksDir), 0o700); err != nil {
		return nil, err
	}
	s := &Snapshotter{store: store, options: c.mountOptions}
	if err := s.Cleanup(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Supported reports whether overlay snapshots can live under root, by
// mounting a small overlay there (upper directory included) and removing
// it again. When they cannot (no overlayfs in the kernel, or a
// filesystem overlayfs refuses as upper layer, such as overlayfs itself),
// the error wraps errdefs.ErrNotImplemented and the mount error that
// says why; the native snapshotter serves there instead.
func Supported(root string) (err error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(root, "overlay-check-")
	if err != nil {
		return err
	}
	merged := filepath.Join(dir, "merged")
	defer func() {
		// Never delete through a mount that did not go away.
		if uerr := mount.UnmountAll(merged, unix.MNT_DETACH); uerr != nil {
			err = errors.Join(err, uerr)
			return
		}
		err = errors.Join(err, os.RemoveAll(dir))
	}()
	for _, d := range []string{"lower1", "lower2", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(dir, "lower1") + ":" + filepath.Join(dir, "lower2"),
		"upperdir=" + filepath.Join(dir, "upper"),
		"workdir=" + filepath.Join(dir, "work"),
	}}
	if err := m.Mount(merged); err != nil {
		return fmt.Errorf("overlay snapshots under %s: %w: %w", root, errdefs.ErrNotImplemented, err)
	}
	return mount.Unmount(merged, 0)
}

// Cleanup deletes the directories and links that no snapshot owns: what a
// crash in the middle of Prepare, View or Remove leaves, in this process
// or any other. NewSnapshotter runs it; a daemon may run it again at any
// time, as it never touches the work of a live operation.
func (s *Snapshotter) Cleanup(ctx context.Context) error {
	return s.store.Cleanup(ctx, func(live map[string]bool) error {
		dir := filepath.Join(s.store.Root(), linksDir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !live[e.Name()] {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
		return nil
	})
}

func (s *Snapshotter) fsDir(id string) string   { return filepath.Join(s.store.Dir(id), "fs") }
func (s *Snapshotter) workDir(id string) string { return filepath.Join(s.store.Dir(id), "work") }
func (s *Snapshotter) link(id string) string    { return filepath.Join(s.store.Root(), linksDir, id) }

// Stat returns the snapshot named key.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	sn, err := s.store.Stat(ctx, key)
	return sn.Info, err
}

// Update changes a snapshot's labels (see snapshot.Snapshotter).
func (s *Snapshotter) Update(ctx context.Context, info snapshot.Info, fieldpaths ...string) (snapshot.Info, error) {
	return s.store.UpdateInfo(ctx, info, fieldpaths)
}

// Usage of an active snapshot walks its upper directory now, which takes
// time in proportion to its files; a committed one's was recorded at
// commit; a view adds nothing of its own.
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	return s.store.Usage(ctx, key, s.fsDir)
}

// Mounts returns the mounts of an active snapshot or a view, as Prepare or
// View did. A committed snapshot has none: errdefs.ErrInvalidParameter
// (make a View of it).
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	sn, parents, err := s.store.StatChain(ctx, key)
	if err != nil {
		return nil, err
	}
	if sn.Info.Kind == snapshot.KindCommitted {
		return nil, fmt.Errorf("mounts of %q: a committed snapshot is not mounted, a view of it is: %w", key, errdefs.ErrInvalidParameter)
	}
	return s.mounts(sn, parents), nil
}

// Prepare makes the active snapshot key on parent.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return s.create(ctx, snapshot.KindActive, key, parent, opts)
}

// View makes the read-only view key of parent.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return s.create(ctx, snapshot.KindView, key, parent, opts)
}

// create does all of its work under the store's exclusive lock: making
// two empty directories and a link costs less than coordinating outside
// it would.
func (s *Snapshotter) create(ctx context.Context, kind snapshot.Kind, key, parent string, opts []snapshot.Opt) (_ []mount.Mount, err error) {
	var (
		sn      storage.Snapshot
		parents []storage.Snapshot
		pending *storage.Pending
	)
	defer func() {
		if pending == nil {
			return
		}
		if err != nil {
			os.Remove(s.link(sn.ID)) // pending exists, so sn.ID is set
		} else {
			pending.Keep()
		}
		pending.Close()
	}()
	err = s.store.Update(ctx, func(tx *storage.Tx) error {
		var err error
		if sn, err = tx.Create(kind, key, parent, opts); err != nil {
			return err
		}
		if parents, err = tx.Parents(sn); err != nil {
			return err
		}
		if pending, err = tx.NewPending(); err != nil {
			return err
		}
		if err := s.makeDirs(pending.Path(), kind, parents); err != nil {
			return err
		}
		if err := os.Symlink(filepath.Join("..", "snapshots", sn.ID, "fs"), s.link(sn.ID)); err != nil {
			return err
		}
		if err := pending.Publish(sn.ID); err != nil {
			return err
		}
		return storage.SyncDir(filepath.Join(s.store.Root(), linksDir))
	})
	if err != nil {
		return nil, err
	}
	return s.mounts(sn, parents), nil
}

// makeDirs makes fs (and work, for an active snapshot) in dir. fs takes
// the mode and owner of the nearest parent's fs: an overlay shows its
// upper directory's root as the root of the tree, so a fresh 0755
// root-owned directory would hide what the image set for "/".
func (s *Snapshotter) makeDirs(dir string, kind snapshot.Kind, parents []storage.Snapshot) error {
	fs := filepath.Join(dir, "fs")
	if err := os.Mkdir(fs, 0o755); err != nil {
		return err
	}
	if len(parents) > 0 {
		var st unix.Stat_t
		if err := unix.Stat(s.fsDir(parents[0].ID), &st); err != nil {
			return &os.PathError{Op: "stat", Path: s.fsDir(parents[0].ID), Err: err}
		}
		if err := os.Lchown(fs, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if err := unix.Chmod(fs, st.Mode&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: fs, Err: err}
		}
	}
	if kind == snapshot.KindActive {
		// overlayfs wants an empty work directory on the upper's
		// filesystem; 0711 as its own subdirectories are private.
		if err := os.Mkdir(filepath.Join(dir, "work"), 0o711); err != nil {
			return err
		}
	}
	return nil
}

func (s *Snapshotter) mounts(sn storage.Snapshot, parents []storage.Snapshot) []mount.Mount {
	if len(parents) == 0 {
		mode := "rw"
		if sn.Info.Kind == snapshot.KindView {
			mode = "ro"
		}
		return []mount.Mount{{Type: "bind", Source: s.fsDir(sn.ID), Options: []string{"rbind", mode}}}
	}
	if sn.Info.Kind == snapshot.KindView && len(parents) == 1 {
		// overlayfs needs two layers at least; one is a bind mount.
		return []mount.Mount{{Type: "bind", Source: s.fsDir(parents[0].ID), Options: []string{"rbind", "ro"}}}
	}
	lower := make([]string, len(parents))
	for i, p := range parents {
		lower[i] = s.link(p.ID)
	}
	var opts []string
	if sn.Info.Kind == snapshot.KindActive {
		opts = append(opts, "upperdir="+s.fsDir(sn.ID), "workdir="+s.workDir(sn.ID))
	}
	opts = append(opts, "lowerdir="+strings.Join(lower, ":"))
	if sn.Info.Kind == snapshot.KindView {
		opts = append(opts, "ro")
	}
	opts = append(opts, s.options...)
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}

// Commit makes the active snapshot key the committed snapshot name. The
// layer is measured and flushed to disk (syncfs) before the record
// changes, so a committed layer survives a power cut whole. Nothing may
// write to the snapshot during Commit.
func (s *Snapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	return s.store.Commit(ctx, name, key, s.fsDir, opts)
}

// Remove deletes the snapshot key; a committed snapshot with children is
// errdefs.ErrConflict. The record goes first; the directory and link are
// deleted after the lock is released, and if that fails (something is
// mounted in it), the next Cleanup deletes them.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	sn, err := s.store.Remove(ctx, key)
	if err != nil {
		return err
	}
	os.Remove(s.link(sn.ID))
	return nil
}

// Walk calls fn for every snapshot, in key order. fn runs after the
// metadata is read and the lock released, so it may call the
// Snapshotter, even to remove what it is given.
func (s *Snapshotter) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	return s.store.Walk(ctx, fn)
}

// Close makes later calls fail with errdefs.ErrUnavailable; it never
// fails, and a second Close does nothing.
func (s *Snapshotter) Close() error { return s.store.Close() }
