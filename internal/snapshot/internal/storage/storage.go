//go:build linux

// Package storage keeps a snapshotter's metadata and directories: which
// snapshots exist, their kinds, parents, labels and usage, and the
// directory each one owns. The overlay and native snapshotters share it.
//
// # Why bbolt, opened per operation
//
// The metadata is a bbolt database, as containerd's is: one transaction
// changes several records at once (Commit renames a snapshot and moves it
// in its parent's child index), a crash at any point leaves either the old
// or the new state, and a change costs the same with ten snapshots or ten
// thousand (a JSON file rewritten whole would not).
//
// The daemon and the image store may be different processes working on
// one root. bbolt locks its file for as long as a handle is open, so no
// process keeps one: every operation takes the root's lock file (flock:
// shared to read, exclusive to change; the kernel queues waiters, nothing
// polls), opens the database, runs one transaction and closes it again.
// That costs a few tens of microseconds per operation and means every
// operation sees every other process's last change.
//
// # Layout
//
//	<root>/lock              the flock above
//	<root>/metadata.db       bbolt: bucket v1 > snapshots (key -> record),
//	                         v1 > children ("<parent>\x00<child>" -> nil)
//	<root>/snapshots/<id>/   the directory a snapshot owns
//	<root>/snapshots/new-*   a snapshot being made
//	<root>/snapshots/rm-*    a snapshot being deleted
//
// # Crash safety
//
// A snapshot's directory is made under a new-* name, filled, renamed to
// its id and fsynced before the transaction that creates its record
// commits: metadata last. Remove deletes the record first and only then
// renames the directory to rm-* and deletes it. So a crash leaves at worst
// a directory no record names, which is invisible through the
// Snapshotter and which Cleanup deletes. Whoever makes or deletes such a
// directory holds a flock on it, so Cleanup never takes one that a live
// process (this one or another) is still working on; a dead process's
// flocks are gone with it.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/snapshot"
)

const (
	lockFile     = "lock"
	dbFile       = "metadata.db"
	snapshotsDir = "snapshots"
	newPrefix    = "new-"
	rmPrefix     = "rm-"

	// maxKeyLen keeps keys well inside bbolt's limit (32KiB) and the
	// children index's composite keys with them.
	maxKeyLen = 4096
)

var (
	bucketV1        = []byte("v1")
	bucketSnapshots = []byte("snapshots")
	bucketChildren  = []byte("children")
)

// Store is the metadata and directories under one root. It holds no open
// file between calls, so any number of Stores, in any number of
// processes, can share a root.
type Store struct {
	root   string
	closed atomic.Bool
	rm     removals
}

// Open opens the store at root, making it if needed. It does not run
// Cleanup; the snapshotters do, after adding their own layout.
func Open(root string) (*Store, error) {
	if root == "" || !filepath.IsAbs(root) {
		return nil, fmt.Errorf("snapshot root %q: must be an absolute path: %w", root, errdefs.ErrInvalidParameter)
	}
	root = filepath.Clean(root)
	if err := os.MkdirAll(filepath.Join(root, snapshotsDir), 0o700); err != nil {
		return nil, fmt.Errorf("snapshot root: %w", err)
	}
	s := &Store{root: root}
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.create(); err != nil {
		return nil, fmt.Errorf("snapshot metadata %s: %w", filepath.Join(root, dbFile), err)
	}
	return s, nil
}

// create makes the database if there is none. It is made whole under a
// temporary name and renamed into place, so a crash while making it
// leaves no database rather than a broken one.
func (s *Store) create() error {
	path := filepath.Join(s.root, dbFile)
	// Under the exclusive lock nobody else is making one: any half-made
	// database is a crash's.
	stale, _ := filepath.Glob(path + ".new-*")
	for _, f := range stale {
		os.Remove(f)
	}
	if _, err := os.Lstat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp := path + ".new-" + NewID()
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: dbTimeout})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		v1, err := tx.CreateBucket(bucketV1)
		if err != nil {
			return err
		}
		if _, err := v1.CreateBucket(bucketSnapshots); err != nil {
			return err
		}
		_, err = v1.CreateBucket(bucketChildren)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(s.root)
}

// Root is the directory the store lives in.
func (s *Store) Root() string { return s.root }

// Dir is the directory of the snapshot with the given id.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, snapshotsDir, id) }

// Close makes every later call fail with errdefs.ErrUnavailable. Calls
// already running finish; there is nothing else to release.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("snapshot store %s is closed: %w", s.root, errdefs.ErrUnavailable)
	}
	return ctx.Err()
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	return s.withDB(true, func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error { return fn(newTx(s, tx)) })
	})
}

// Update runs fn in a read-write transaction, alone among every process
// using the root. The changes are durable when Update returns nil; if fn
// fails, none are made. Work fn does on disk before returning (renaming a
// directory into place) happens before the commit, so metadata comes
// last.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	return s.withDB(false, func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error { return fn(newTx(s, tx)) })
	})
}

// lock takes the root's lock file, shared or exclusive, blocking until
// it is granted. Each call opens the file anew: flock belongs to an open
// file, so goroutines of one process exclude each other as processes do.
func (s *Store) lock(how int) (unlock func(), err error) {
	path := filepath.Join(s.root, lockFile)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := flock(fd, how); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	// Unlock before closing: a child forked meanwhile holds a copy of the
	// descriptor until it execs, and with it the lock.
	return func() {
		_ = unix.Flock(fd, unix.LOCK_UN)
		unix.Close(fd)
	}, nil
}

func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// dbTimeout is only a guard: the lock file already keeps writers apart,
// so bbolt's own flock is always free when asked for.
const dbTimeout = 10 * time.Second

func (s *Store) withDB(readOnly bool, fn func(*bolt.DB) error) error {
	db, err := bolt.Open(filepath.Join(s.root, dbFile), 0o600, &bolt.Options{
		Timeout:  dbTimeout,
		ReadOnly: readOnly,
	})
	if err != nil {
		return fmt.Errorf("open snapshot metadata: %w", err)
	}
	err = fn(db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close snapshot metadata: %w", cerr)
	}
	return err
}

// Snapshot is one snapshot's record.
type Snapshot struct {
	// ID names the snapshot's directory; it never changes, not even
	// when the snapshot is committed under a new name.
	ID    string
	Info  snapshot.Info
	Usage snapshot.Usage // recorded at commit; zero before
}

// record is a Snapshot as stored. Kind is a word, so the file does not
// depend on the order of Go constants.
type record struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	Parent  string            `json:"parent,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
	Inodes  int64             `json:"inodes,omitempty"`
	Size    int64             `json:"size,omitempty"`
}

var kindWords = map[snapshot.Kind]string{
	snapshot.KindActive:    "active",
	snapshot.KindView:      "view",
	snapshot.KindCommitted: "committed",
}

func kindOf(word string) snapshot.Kind {
	for k, w := range kindWords {
		if w == word {
			return k
		}
	}
	return snapshot.KindUnknown
}

// Tx is one transaction on the metadata.
type Tx struct {
	store               *Store
	snapshots, children *bolt.Bucket
	now                 time.Time
}

func newTx(s *Store, tx *bolt.Tx) *Tx {
	v1 := tx.Bucket(bucketV1)
	return &Tx{store: s, snapshots: v1.Bucket(bucketSnapshots), children: v1.Bucket(bucketChildren), now: time.Now().UTC()}
}

// ValidateKey rejects keys the store cannot hold: empty, longer than
// 4096 bytes, or holding a NUL (the children index uses it as separator).
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("snapshot key is empty: %w", errdefs.ErrInvalidParameter)
	case len(key) > maxKeyLen:
		return fmt.Errorf("snapshot key of %d bytes, more than %d: %w", len(key), maxKeyLen, errdefs.ErrInvalidParameter)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("snapshot key %q holds a NUL byte: %w", key, errdefs.ErrInvalidParameter)
	}
	return nil
}

// Get returns the snapshot named key (an active or view key, or a
// committed name).
func (t *Tx) Get(key string) (Snapshot, error) {
	v := t.snapshots.Get([]byte(key))
	if v == nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: bad record: %w", key, err)
	}
	return Snapshot{
		ID: r.ID,
		Info: snapshot.Info{
			Kind:    kindOf(r.Kind),
			Name:    key,
			Parent:  r.Parent,
			Labels:  r.Labels,
			Created: r.Created,
			Updated: r.Updated,
		},
		Usage: snapshot.Usage{Inodes: r.Inodes, Size: r.Size},
	}, nil
}

// Parents returns sn's committed ancestors, its parent first.
func (t *Tx) Parents(sn Snapshot) ([]Snapshot, error) {
	var chain []Snapshot
	for p := sn.Info.Parent; p != ""; {
		ps, err := t.Get(p)
		if err != nil {
			return nil, fmt.Errorf("parent of %q: %w", sn.Info.Name, err)
		}
		chain = append(chain, ps)
		p = ps.Info.Parent
	}
	return chain, nil
}

func (t *Tx) put(sn Snapshot) error {
	v, err := json.Marshal(record{
		ID:      sn.ID,
		Kind:    kindWords[sn.Info.Kind],
		Parent:  sn.Info.Parent,
		Labels:  sn.Info.Labels,
		Created: sn.Info.Created,
		Updated: sn.Info.Updated,
		Inodes:  sn.Usage.Inodes,
		Size:    sn.Usage.Size,
	})
	if err != nil {
		return err
	}
	return t.snapshots.Put([]byte(sn.Info.Name), v)
}

func childKey(parent, child string) []byte {
	return []byte(parent + "\x00" + child)
}

// applyOpts runs opts on a fresh Info and keeps only what callers may set:
// the labels.
func applyOpts(opts []snapshot.Opt) (map[string]string, error) {
	var base snapshot.Info
	for _, o := range opts {
		if err := o(&base); err != nil {
			return nil, err
		}
	}
	if len(base.Labels) == 0 {
		return nil, nil
	}
	return base.Labels, nil
}

// Create records a new active or view snapshot key on parent (a committed
// snapshot, or "" for none) with a new ID, which the caller's directory
// must then carry. A key in use is errdefs.ErrAlreadyExists; a missing
// parent errdefs.ErrNotFound; a parent that is not committed
// errdefs.ErrInvalidParameter.
func (t *Tx) Create(kind snapshot.Kind, key, parent string, opts []snapshot.Opt) (Snapshot, error) {
	if err := ValidateKey(key); err != nil {
		return Snapshot{}, err
	}
	if kind != snapshot.KindActive && kind != snapshot.KindView {
		return Snapshot{}, fmt.Errorf("create snapshot %q of kind %v: %w", key, kind, errdefs.ErrInvalidParameter)
	}
	if t.snapshots.Get([]byte(key)) != nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
	}
	if _, err := t.CheckParent(parent); err != nil {
		return Snapshot{}, err
	}
	labels, err := applyOpts(opts)
	if err != nil {
		return Snapshot{}, err
	}
	sn := Snapshot{
		ID:   NewID(),
		Info: snapshot.Info{Kind: kind, Name: key, Parent: parent, Labels: labels, Created: t.now, Updated: t.now},
	}
	if err := t.put(sn); err != nil {
		return Snapshot{}, err
	}
	if parent != "" {
		if err := t.children.Put(childKey(parent, key), nil); err != nil {
			return Snapshot{}, err
		}
	}
	return sn, nil
}

// CheckParent returns parent if it can have children: it exists
// (errdefs.ErrNotFound) and is committed (errdefs.ErrInvalidParameter).
// "" (no parent) always can, and gives a zero Snapshot.
func (t *Tx) CheckParent(parent string) (Snapshot, error) {
	if parent == "" {
		return Snapshot{}, nil
	}
	p, err := t.Get(parent)
	if err != nil {
		return Snapshot{}, fmt.Errorf("parent: %w", err)
	}
	if p.Info.Kind != snapshot.KindCommitted {
		return Snapshot{}, fmt.Errorf("parent %q is %v, not committed: %w", parent, p.Info.Kind, errdefs.ErrInvalidParameter)
	}
	return p, nil
}

// Commit turns the active snapshot key into the committed snapshot name,
// keeping its ID and parent. The committed snapshot's labels are those of
// opts (an active snapshot's labels describe the work in progress, and
// are not carried over), and its usage is usage.
func (t *Tx) Commit(name, key string, usage snapshot.Usage, opts []snapshot.Opt) (Snapshot, error) {
	if err := ValidateKey(name); err != nil {
		return Snapshot{}, err
	}
	sn, err := t.Get(key)
	if err != nil {
		return Snapshot{}, err
	}
	if sn.Info.Kind != snapshot.KindActive {
		return Snapshot{}, fmt.Errorf("commit %q: snapshot is %v, not active: %w", key, sn.Info.Kind, errdefs.ErrInvalidParameter)
	}
	if t.snapshots.Get([]byte(name)) != nil {
		return Snapshot{}, fmt.Errorf("commit %q as %q: %w", key, name, errdefs.ErrAlreadyExists)
	}
	labels, err := applyOpts(opts)
	if err != nil {
		return Snapshot{}, err
	}
	committed := Snapshot{
		ID: sn.ID,
		Info: snapshot.Info{Kind: snapshot.KindCommitted, Name: name, Parent: sn.Info.Parent, Labels: labels,
			Created: t.now, Updated: t.now},
		Usage: usage,
	}
	if err := t.snapshots.Delete([]byte(key)); err != nil {
		return Snapshot{}, err
	}
	if err := t.put(committed); err != nil {
		return Snapshot{}, err
	}
	if p := sn.Info.Parent; p != "" {
		if err := t.children.Delete(childKey(p, key)); err != nil {
			return Snapshot{}, err
		}
		if err := t.children.Put(childKey(p, name), nil); err != nil {
			return Snapshot{}, err
		}
	}
	return committed, nil
}

// Remove deletes key's record and returns it. A snapshot with children is
// errdefs.ErrConflict: remove them first.
func (t *Tx) Remove(key string) (Snapshot, error) {
	sn, err := t.Get(key)
	if err != nil {
		return Snapshot{}, err
	}
	prefix := childKey(key, "")
	if k, _ := t.children.Cursor().Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)) {
		return Snapshot{}, fmt.Errorf("remove snapshot %q: it is the parent of %q: %w", key, k[len(prefix):], errdefs.ErrConflict)
	}
	if err := t.snapshots.Delete([]byte(key)); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %w", errWrite, err)
	}
	if p := sn.Info.Parent; p != "" {
		if err := t.children.Delete(childKey(p, key)); err != nil {
			return Snapshot{}, fmt.Errorf("%w: %w", errWrite, err)
		}
	}
	return sn, nil
}

// UpdateInfo changes the labels of the snapshot info.Name. With no
// fieldpaths every label is replaced by info.Labels; "labels" does the
// same; "labels.<key>" sets that one label from info.Labels, or removes
// it when info.Labels does not have it. Any other field is
// errdefs.ErrInvalidParameter: nothing else may change.
func (t *Tx) UpdateInfo(info snapshot.Info, fieldpaths []string) (snapshot.Info, error) {
	sn, err := t.Get(info.Name)
	if err != nil {
		return snapshot.Info{}, err
	}
	if len(fieldpaths) == 0 {
		fieldpaths = []string{"labels"}
	}
	labels := map[string]string{}
	for k, v := range sn.Info.Labels {
		labels[k] = v
	}
	for _, fp := range fieldpaths {
		if fp == "labels" {
			labels = map[string]string{}
			for k, v := range info.Labels {
				labels[k] = v
			}
			continue
		}
		key, ok := strings.CutPrefix(fp, "labels.")
		if !ok || key == "" {
			return snapshot.Info{}, fmt.Errorf("update snapshot %q: field %q cannot be changed: %w", info.Name, fp, errdefs.ErrInvalidParameter)
		}
		if v, ok := info.Labels[key]; ok {
			labels[key] = v
		} else {
			delete(labels, key)
		}
	}
	if len(labels) == 0 {
		labels = nil
	}
	sn.Info.Labels = labels
	sn.Info.Updated = t.now
	if err := t.put(sn); err != nil {
		return snapshot.Info{}, err
	}
	return sn.Info, nil
}

// Walk calls fn for every snapshot, in key order, stopping at fn's first
// error. fn must not change the store; Snapshotters collect and call their
// callers' functions after the transaction.
func (t *Tx) Walk(fn func(Snapshot) error) error {
	return t.snapshots.ForEach(func(k, _ []byte) error {
		sn, err := t.Get(string(k))
		if err != nil {
			return err
		}
		return fn(sn)
	})
}

// IDs returns the IDs of every recorded snapshot.
func (t *Tx) IDs() (map[string]bool, error) {
	ids := map[string]bool{}
	err := t.Walk(func(sn Snapshot) error {
		ids[sn.ID] = true
		return nil
	})
	return ids, err
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new snapshot ID: 26 random base32 characters (128
// bits). It is short on purpose: overlay lists each layer's directory in
// one page of mount options, through a link named by the ID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes instead)
	return idEncoding.EncodeToString(b[:])
}

// IsID reports whether name has the shape of an ID.
func IsID(name string) bool {
	if len(name) != 26 {
		return false
	}
	_, err := idEncoding.DecodeString(name)
	return err == nil
}
