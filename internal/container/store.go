package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/errdefs"
)

// RecordFile is the name of a container's record in its directory.
const RecordFile = "config.v2.json"

// maxRandomNameTries bounds the attempts at a free random name before
// the store falls back to names with a digit appended.
const maxRandomNameTries = 10

// Store holds every container's record, on disk and in memory, with an
// index by name and by ID. It never takes a Container's lock itself: the
// caller holds it around Save and Rename, so the record written is the
// one the caller sees.
type Store struct {
	root string

	mu    sync.RWMutex
	byID  map[string]*Container
	names map[string]string // "/name" -> id

	incomplete []string
}

// Open loads every record under root (created if missing). Directories
// whose record is missing or unreadable are not loaded; Incomplete lists
// them for the daemon to clean up. Two records claiming one name keep it
// for the older container, and the newer one is listed as incomplete:
// that can only come from a hand-edited store.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o710); err != nil {
		return nil, err
	}
	s := &Store{root: root, byID: map[string]*Container{}, names: map[string]string{}}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var loaded []*Container
	for _, e := range entries {
		if !e.IsDir() || !isID(e.Name()) {
			continue
		}
		c, err := s.load(e.Name())
		if err != nil {
			slog.Warn("container record unreadable", "id", e.Name(), "err", err)
			s.incomplete = append(s.incomplete, e.Name())
			continue
		}
		loaded = append(loaded, c)
	}
	slices.SortFunc(loaded, func(a, b *Container) int { return a.Created.Compare(b.Created) })
	for _, c := range loaded {
		if other, taken := s.names[c.Name]; taken {
			slog.Warn("container name claimed twice", "name", c.Name, "kept", other, "dropped", c.ID)
			s.incomplete = append(s.incomplete, c.ID)
			continue
		}
		s.byID[c.ID] = c
		s.names[c.Name] = c.ID
	}
	return s, nil
}

func (s *Store) load(id string) (*Container, error) {
	dir := s.Dir(id)
	if err := removeTemps(dir); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, RecordFile))
	if err != nil {
		return nil, err
	}
	c := &Container{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", RecordFile, err)
	}
	if c.ID != id {
		return nil, fmt.Errorf("%s: record of %q in the directory of %q", RecordFile, c.ID, id)
	}
	if _, err := NormalizeName(c.Name); err != nil || !strings.HasPrefix(c.Name, "/") {
		return nil, fmt.Errorf("%s: bad name %q", RecordFile, c.Name)
	}
	if _, ok := transitions[c.State.Status]; !ok {
		return nil, fmt.Errorf("%s: unknown state %q", RecordFile, c.State.Status)
	}
	return c, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// Dir is container id's directory.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, id) }

// Incomplete lists the directories Open found without a usable record.
func (s *Store) Incomplete() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.incomplete)
}

// Create adds c: it reserves c.Name (a random name when empty; the name
// normalized with its leading "/"), makes c's directory, calls prepare
// (when not nil) to fill it, and writes c's record last, so a record
// never exists without what prepare wrote. Nothing is left behind on
// error. A taken name is errdefs.ErrConflict with docker's message.
func (s *Store) Create(c *Container, prepare func(dir string) error) error {
	if !isID(c.ID) {
		return fmt.Errorf("container id %q: %w", c.ID, errdefs.ErrInvalidParameter)
	}
	if err := s.reserve(c); err != nil {
		return err
	}
	release := func() {
		s.mu.Lock()
		delete(s.names, c.Name)
		s.mu.Unlock()
	}
	dir := s.Dir(c.ID)
	if err := os.Mkdir(dir, 0o710); err != nil {
		release()
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("container %s: %w", c.ID, errdefs.ErrAlreadyExists)
		}
		return err
	}
	if prepare != nil {
		if err := prepare(dir); err != nil {
			release()
			_ = os.RemoveAll(dir)
			return err
		}
	}
	if err := s.Save(c); err != nil {
		release()
		_ = os.RemoveAll(dir)
		return err
	}
	s.mu.Lock()
	s.byID[c.ID] = c
	s.mu.Unlock()
	return nil
}

// PrepareDir makes the directory of a container not created yet and
// calls prepare to fill it; Adopt then makes it a container. Nothing is
// left behind on error. A directory that never gets its record is listed
// as incomplete by the next Open.
func (s *Store) PrepareDir(id string, prepare func(dir string) error) error {
	if !isID(id) {
		return fmt.Errorf("container id %q: %w", id, errdefs.ErrInvalidParameter)
	}
	dir := s.Dir(id)
	if err := os.Mkdir(dir, 0o710); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("container %s: %w", id, errdefs.ErrAlreadyExists)
		}
		return err
	}
	if prepare != nil {
		if err := prepare(dir); err != nil {
			_ = os.RemoveAll(dir)
			return err
		}
	}
	return nil
}

// Adopt adds c, whose directory PrepareDir made: it reserves c.Name as
// Create does and writes c's record. On error the directory stays, for
// the caller to remove or adopt again.
func (s *Store) Adopt(c *Container) error {
	if !isID(c.ID) {
		return fmt.Errorf("container id %q: %w", c.ID, errdefs.ErrInvalidParameter)
	}
	if err := s.reserve(c); err != nil {
		return err
	}
	if err := s.Save(c); err != nil {
		s.mu.Lock()
		delete(s.names, c.Name)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	s.byID[c.ID] = c
	s.mu.Unlock()
	return nil
}

// reserve claims c.Name in the index (choosing one when empty).
func (s *Store) reserve(c *Container) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Name == "" {
		for i := 0; ; i++ {
			name := "/" + RandomName(i/maxRandomNameTries)
			if _, taken := s.names[name]; !taken {
				c.Name = name
				break
			}
		}
	} else {
		name, err := NormalizeName(c.Name)
		if err != nil {
			return err
		}
		c.Name = name
	}
	if id, taken := s.names[c.Name]; taken {
		return nameConflict(c.Name, id)
	}
	s.names[c.Name] = c.ID
	return nil
}

func nameConflict(name, id string) error {
	return errdefs.Errorf(errdefs.ErrConflict,
		"Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.",
		name, id)
}

// Save writes c's record atomically and durably: once it returns, a crash
// leaves this record. The caller holds c's lock. On error (a full disk)
// the record on disk is the previous one, whole.
func (s *Store) Save(c *Container) error { return s.save(c, true) }

// Checkpoint writes c's record atomically but does not wait for the
// rename to reach the disk: after a crash the record is this one or the
// one before, whole. It is for changes the daemon can rebuild at its next
// start (a container running, paused, its health), and costs one flush
// instead of two.
func (s *Store) Checkpoint(c *Container) error { return s.save(c, false) }

func (s *Store) save(c *Container, durable bool) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	level := syncData
	switch {
	case ephemeral(c):
		level = syncNothing
	case durable:
		level = syncAll
	}
	if err := writeFileAtomic(filepath.Join(s.Dir(c.ID), RecordFile), b, 0o600, level); err != nil {
		return fmt.Errorf("save container %s: %w", ShortID(c.ID), err)
	}
	return nil
}

// ephemeral tells whether c's record may skip every flush: an auto-remove
// container is removed at its exit, and after a crash at the latest (its
// record then whole, old, empty or gone: restore removes it either way,
// snapshot included). Three to five flushes less per `run --rm`.
func ephemeral(c *Container) bool {
	return c.HostConfig != nil && c.HostConfig.AutoRemove
}

// Get finds a container as docker does: by full ID, then by name (with
// or without its "/"), then by unique ID prefix. An unknown reference is
// errdefs.ErrNotFound ("No such container: ref"); a prefix of several IDs
// is errdefs.ErrInvalidParameter.
func (s *Store) Get(ref string) (*Container, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ref == "" {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "No such container: %s", ref)
	}
	if c, ok := s.byID[ref]; ok {
		return c, nil
	}
	name := ref
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if id, ok := s.names[name]; ok {
		if c, ok := s.byID[id]; ok {
			return c, nil
		}
	}
	var found *Container
	for id, c := range s.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "multiple IDs found with provided prefix: %s", ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "No such container: %s", ref)
	}
	return found, nil
}

// List returns every container, newest first (docker ps's order).
func (s *Store) List() []*Container {
	s.mu.RLock()
	out := make([]*Container, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, c)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Container) int {
		if n := b.Created.Compare(a.Created); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Len is the number of containers.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// Rename gives c a new name, in the index and on disk. The caller holds
// c's lock. A taken name is errdefs.ErrConflict; on a write error nothing
// changed.
func (s *Store) Rename(c *Container, newName string) error {
	name, err := NormalizeName(newName)
	if err != nil {
		return errdefs.Wrapf(err, "Error when allocating new name")
	}
	s.mu.Lock()
	if id, taken := s.names[name]; taken {
		s.mu.Unlock()
		if id == c.ID {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "Renaming a container with the same name as its current name")
		}
		return errdefs.Wrapf(nameConflict(name, id), "Error when allocating new name")
	}
	s.names[name] = c.ID
	s.mu.Unlock()

	old := c.Name
	c.Name = name
	if err := s.Save(c); err != nil {
		c.Name = old
		s.mu.Lock()
		delete(s.names, name)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	if s.names[old] == c.ID {
		delete(s.names, old)
	}
	s.mu.Unlock()
	return nil
}

// Delete forgets id and removes its directory (the record first, so a
// crash half way leaves a directory Open reports as incomplete, never a
// record of a half-deleted container).
func (s *Store) Delete(id string) error {
	dir := s.Dir(id)
	if err := os.Remove(filepath.Join(dir, RecordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove container %s: %w", ShortID(id), err)
	}
	s.Forget(id)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove container %s: %w", ShortID(id), err)
	}
	return nil
}

// Forget drops id from memory (lists, names) and leaves its directory to
// a later Delete: the removal is answered before its files are gone.
func (s *Store) Forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.byID[id]; ok {
		if s.names[c.Name] == id {
			delete(s.names, c.Name)
		}
		delete(s.byID, id)
	}
}

// RemoveIncomplete deletes a directory Open listed as incomplete.
func (s *Store) RemoveIncomplete(id string) error {
	if !isID(id) {
		return fmt.Errorf("container id %q: %w", id, errdefs.ErrInvalidParameter)
	}
	s.mu.Lock()
	_, known := s.byID[id]
	if !known {
		s.incomplete = slices.DeleteFunc(s.incomplete, func(x string) bool { return x == id })
	}
	s.mu.Unlock()
	if known {
		return fmt.Errorf("container %s has a record: %w", ShortID(id), errdefs.ErrConflict)
	}
	return os.RemoveAll(s.Dir(id))
}
