package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
)

// Temporary entries in the store's root start with '.', which no volume
// name can: a volume being created, and one being removed.
const (
	creatingPrefix = ".tmp-"
	removingPrefix = ".rm-"
)

// Store holds the volumes under one root (<data-root>/volumes).
type Store struct {
	root string
	log  *slog.Logger
	res  resolver

	// mu guards vols and every volume's pending, refs and mounts. It is
	// held for map work only, never across I/O: the slow work on a
	// volume is serialized by that volume's op lock instead, taken
	// before mu.
	mu   sync.Mutex
	vols map[string]*vol

	pruning atomic.Bool
}

// vol is one volume in memory.
type vol struct {
	rec record // never changes once loaded or created
	dir string // <root>/<name>

	// op is held while the volume is created, mounted, unmounted,
	// removed, or its references change.
	op sync.Mutex

	// Guarded by Store.mu, and changed with op held too.
	pending bool                // being created: not visible yet
	refs    map[string]struct{} // containers using it (any state)
	mounts  map[string]int      // Mount calls not yet undone, by ref

	mounted bool // guarded by op: the device is mounted on _data
}

func (v *vol) dataPath() string { return filepath.Join(v.dir, dataDir) }

// users lists, sorted, every container that references v or has it
// mounted. Caller holds Store.mu.
func (v *vol) users() []string {
	set := make(map[string]struct{}, len(v.refs)+len(v.mounts))
	for r := range v.refs {
		set[r] = struct{}{}
	}
	for r := range v.mounts {
		set[r] = struct{}{}
	}
	return sortedSet(set)
}

// Option changes how Open sets up a Store.
type Option func(*options)

type options struct {
	log *slog.Logger
	res resolver
}

// WithLogger sends the store's warnings (records it could not read,
// leftovers it could not remove) to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func makeOptions(opts []Option) options {
	o := options{log: slog.Default(), res: net.DefaultResolver}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	return o
}

// Open loads the volumes under root, creating root if needed, and
// finishes what a crash interrupted: volumes half created or half
// removed are deleted (never across a mount point), stray temporary
// files go, and a volume whose record is missing or torn but whose data
// directory exists is kept as a plain local volume (its data matters
// more than its options). Volumes with mount options whose _data is
// still mounted (containers kept running across a daemon restart) are
// known as mounted; SetReferences then says who uses them.
func Open(ctx context.Context, root string, opts ...Option) (*Store, error) {
	o := makeOptions(opts)
	// 0701 as docker: others may reach a _data they know the path of
	// (user-namespaced containers), but not list the volumes.
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, err
	}
	s := &Store{root: root, log: o.log, res: o.res, vols: map[string]*vol{}}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."):
			if err := removeTree(root, name); err != nil {
				s.log.WarnContext(ctx, "volume store: leftover not removed", "path", filepath.Join(root, name), "err", err)
			}
		case !e.IsDir() || validateName(name) != nil:
			s.log.WarnContext(ctx, "volume store: not a volume, ignored", "path", filepath.Join(root, name))
		default:
			v, err := s.load(ctx, name)
			if err != nil {
				s.log.WarnContext(ctx, "volume store: volume not loaded", "volume", name, "err", err)
				continue
			}
			if v != nil {
				s.vols[name] = v
			}
		}
	}
	return s, nil
}

// load reads one volume directory; nil, nil means it was a half-made
// volume and is gone.
func (s *Store) load(ctx context.Context, name string) (*vol, error) {
	dir := filepath.Join(s.root, name)
	s.removeTemps(ctx, dir)
	data := filepath.Join(dir, dataDir)
	fi, statErr := os.Lstat(data)
	hasData := statErr == nil && fi.IsDir()
	rec, err := readRecord(dir, name)
	switch {
	case err == nil:
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errTornRecord):
		return nil, err // say, a newer engine's record: leave it alone
	case !hasData:
		// Neither a record nor data: nothing worth keeping.
		s.log.WarnContext(ctx, "volume store: removing incomplete volume", "volume", name, "err", err)
		return nil, s.discard(dir)
	default:
		s.log.WarnContext(ctx, "volume store: record lost, keeping the data as a plain volume", "volume", name, "err", err)
		created := fi.ModTime()
		rec = record{Name: name, Driver: DriverLocal, CreatedAt: created}
		if err := writeRecord(dir, rec); err != nil {
			return nil, err
		}
	}
	if !hasData {
		if err := os.Mkdir(data, 0o755); err != nil {
			return nil, err
		}
	}
	v := &vol{rec: rec, dir: dir, refs: map[string]struct{}{}, mounts: map[string]int{}}
	if needsMount(rec.Options) {
		mounted, err := isMountPoint(data)
		if err != nil {
			return nil, err
		}
		v.mounted = mounted
	}
	return v, nil
}

// removeTemps removes the temporary files a crash left in a volume's
// directory (atomicfile's, while its record was written).
func (s *Store) removeTemps(ctx context.Context, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), atomicfile.DefaultTempPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				s.log.WarnContext(ctx, "volume store: temporary file not removed", "path", filepath.Join(dir, e.Name()), "err", err)
			}
		}
	}
}

// discard renames dir out of the volumes' namespace, then removes it. The
// rename makes the removal atomic for a reader and for a crash: what is
// left is a removing entry, which the next Open removes.
func (s *Store) discard(dir string) error {
	tmp := removingPrefix + randomSuffix()
	if err := os.Rename(dir, filepath.Join(s.root, tmp)); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(s.root); err != nil {
		return err
	}
	return removeTree(s.root, tmp)
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Root is the directory the store keeps its volumes in.
func (s *Store) Root() string { return s.root }

// noSuchVolume is docker's answer for a volume that does not exist.
func noSuchVolume(name string) error {
	return errdefs.Errorf(errdefs.ErrNotFound, "get %s: no such volume", name)
}

// lookup returns name's volume, visible (not being created), or nil.
// Caller holds s.mu.
func (s *Store) lookup(name string) *vol {
	v := s.vols[name]
	if v == nil || v.pending {
		return nil
	}
	return v
}

// lockVolume returns name's volume with its op lock held: the lock is
// taken, then the volume checked to be still the one in the store (a
// Remove may have won the race).
func (s *Store) lockVolume(name string) (*vol, error) {
	for {
		s.mu.Lock()
		v := s.vols[name]
		s.mu.Unlock()
		if v == nil {
			return nil, noSuchVolume(name)
		}
		v.op.Lock()
		s.mu.Lock()
		cur := s.vols[name]
		pending := cur == v && v.pending
		s.mu.Unlock()
		switch {
		case cur == v && !pending:
			return v, nil
		case pending:
			// Cannot happen: a creator holds op until the volume is
			// published or dropped.
			v.op.Unlock()
			return nil, noSuchVolume(name)
		}
		v.op.Unlock() // removed meanwhile; perhaps created again
	}
}

// view is v as a Volume. Caller holds s.mu.
func (v *vol) view() Volume {
	return Volume{
		Name:       v.rec.Name,
		Driver:     v.rec.Driver,
		Mountpoint: v.dataPath(),
		CreatedAt:  v.rec.CreatedAt,
		Labels:     maps.Clone(v.rec.Labels),
		Options:    maps.Clone(v.rec.Options),
		Anonymous:  v.rec.Anonymous,
		RefCount:   len(v.users()),
	}
}

// Get returns the volume called name.
func (s *Store) Get(name string) (Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.lookup(name)
	if v == nil {
		return Volume{}, noSuchVolume(name)
	}
	return v.view(), nil
}

// errTornRecord marks a record that is not valid JSON: a write that a
// crash cut short outside atomicfile, or a damaged disk.
var errTornRecord = errors.New("record unreadable")

func sortedSet(set map[string]struct{}) []string {
	return slices.Sorted(maps.Keys(set))
}
