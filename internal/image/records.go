package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/atomicfile"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Image is an image record: a name pointing at a manifest or an index in
// the content store. A record with an empty Name is dangling: an image
// whose last tag moved to another image, kept (as docker keeps <none>
// images) until it is deleted or pruned.
type Image struct {
	// Name is the normalized reference: "docker.io/library/busybox:latest"
	// or "docker.io/library/busybox@sha256:...".
	Name      string             `json:"name,omitempty"`
	Target    ocispec.Descriptor `json:"target"`
	Labels    map[string]string  `json:"labels,omitempty"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
}

// Dangling reports whether the record has no name.
func (i Image) Dangling() bool { return i.Name == "" }

// key is the record's identity in the file: its name, or for a dangling
// record its target, so one target has at most one dangling record.
func (i Image) key() string {
	if i.Name == "" {
		return "@" + i.Target.Digest.String()
	}
	return i.Name
}

// recordsFile is the records on disk, versioned so that a later layout can
// migrate it.
type recordsFile struct {
	Version int     `json:"version"`
	Images  []Image `json:"images"`
}

const recordsVersion = 1

// records keeps the image records in one JSON file, replaced atomically
// (temp file, fsync, rename, fsync of the directory) under an flock on a
// lock file, so a crash leaves either the old or the new file and two
// processes never interleave a read-modify-write. Reads reuse the parsed
// file while its inode and modification time are unchanged; every rename
// gives a new inode.
type records struct {
	dir string

	mu     sync.Mutex
	cache  map[string]Image
	stamp  fileStamp
	loaded bool
}

type fileStamp struct {
	ino   uint64
	mtime int64
	size  int64
}

func (r *records) path() string     { return filepath.Join(r.dir, "images.json") }
func (r *records) lockPath() string { return filepath.Join(r.dir, "images.lock") }

// lock takes the cross-process lock, shared for reads and exclusive for
// writes, and returns its release.
func (r *records) lock(ctx context.Context, exclusive bool) (func(), error) {
	f, err := os.OpenFile(r.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image records: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	// A blocking flock cannot be cancelled; poll with LOCK_NB so that a
	// stuck peer does not hang a cancelled request forever.
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("image records: flock %s: %w", r.lockPath(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("image records: waiting for the lock: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	// Unlock before closing: a child forked meanwhile holds a copy of the
	// descriptor until it execs, and with it the lock.
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// load refreshes the cache from disk if the file changed. Callers hold
// r.mu and the flock.
func (r *records) load() error {
	st, err := os.Stat(r.path())
	if errors.Is(err, fs.ErrNotExist) {
		r.cache, r.stamp, r.loaded = map[string]Image{}, fileStamp{}, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("image records: %w", err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	stamp := fileStamp{ino: sys.Ino, mtime: st.ModTime().UnixNano(), size: st.Size()}
	if r.loaded && stamp == r.stamp {
		return nil
	}
	b, err := os.ReadFile(r.path())
	if err != nil {
		return fmt.Errorf("image records: %w", err)
	}
	var f recordsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("image records %s: %v", r.path(), err)
	}
	if f.Version != recordsVersion {
		return fmt.Errorf("image records %s: version %d, this Berth reads %d", r.path(), f.Version, recordsVersion)
	}
	m := make(map[string]Image, len(f.Images))
	for _, img := range f.Images {
		m[img.key()] = img
	}
	r.cache, r.stamp, r.loaded = m, stamp, true
	return nil
}

// view calls fn with the current records; fn must not keep or change the
// map.
func (r *records) view(ctx context.Context, fn func(map[string]Image) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	unlock, err := r.lock(ctx, false)
	if err != nil {
		return err
	}
	defer unlock()
	if err := r.load(); err != nil {
		return err
	}
	return fn(r.cache)
}

// update runs fn on a copy of the records and, if fn returns nil and
// changed something, writes the copy durably before publishing it.
func (r *records) update(ctx context.Context, fn func(map[string]Image) (bool, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := r.load(); err != nil {
		return err
	}
	next := make(map[string]Image, len(r.cache))
	for k, v := range r.cache {
		next[k] = v
	}
	changed, err := fn(next)
	if err != nil || !changed {
		return err
	}
	f := recordsFile{Version: recordsVersion, Images: make([]Image, 0, len(next))}
	for _, img := range next {
		f.Images = append(f.Images, img)
	}
	sort.Slice(f.Images, func(i, j int) bool { return f.Images[i].key() < f.Images[j].key() })
	b, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return fmt.Errorf("image records: %w", err)
	}
	if err := writeFileAtomic(r.path(), b, 0o600); err != nil {
		return fmt.Errorf("image records: %w", err)
	}
	r.cache = next
	// Force a re-stat on the next read rather than trusting our own
	// write's stamp: cheap, and it keeps one code path.
	r.loaded = false
	return nil
}

// writeFileAtomic replaces path with data, durably (see atomicfile).
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm)
}

// removeStaleTemps deletes temporary files a killed writer left in dir.
// Only called on open, when no writer of this store can be running.
func removeStaleTemps(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if err != nil {
		return nil, err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return matches, nil
}
