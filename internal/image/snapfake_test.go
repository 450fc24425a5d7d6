package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
)

// testSnapshotter stands in for the overlay and native snapshotters
// until they land: with overlay, an active snapshot over a parent is an
// overlay mount (upperdir= its own directory); without, a copy of the
// parent bound in place. Its metadata is a JSON file replaced atomically,
// so a test process killed mid-unpack leaves state a reopen can read.
type testSnapshotter struct {
	root    string
	overlay bool
	mu      sync.Mutex
	state   fakeState
}

type fakeState struct {
	Next  int
	Snaps map[string]*fakeSnap
}

type fakeSnap struct {
	Info  snapshot.Info
	Dir   string
	Usage snapshot.Usage
}

var _ snapshot.Snapshotter = (*testSnapshotter)(nil)

func newTestSnapshotter(root string, overlay bool) (*testSnapshotter, error) {
	s := &testSnapshotter{root: root, overlay: overlay, state: fakeState{Snaps: map[string]*fakeSnap{}}}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(root, "meta.json"))
	if err == nil {
		if err := json.Unmarshal(b, &s.state); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *testSnapshotter) save() error {
	b, _ := json.Marshal(s.state)
	return writeFileAtomic(filepath.Join(s.root, "meta.json"), b, 0o600)
}

func (s *testSnapshotter) Stat(_ context.Context, key string) (snapshot.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.state.Snaps[key]
	if !ok {
		return snapshot.Info{}, fmt.Errorf("snapshot %s: %w", key, errdefs.ErrNotFound)
	}
	return sn.Info, nil
}

func (s *testSnapshotter) Update(_ context.Context, info snapshot.Info, _ ...string) (snapshot.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.state.Snaps[info.Name]
	if !ok {
		return snapshot.Info{}, errdefs.ErrNotFound
	}
	sn.Info.Labels = info.Labels
	return sn.Info, s.save()
}

func (s *testSnapshotter) Usage(_ context.Context, key string) (snapshot.Usage, error) {
	s.mu.Lock()
	sn, ok := s.state.Snaps[key]
	s.mu.Unlock()
	if !ok {
		return snapshot.Usage{}, errdefs.ErrNotFound
	}
	if sn.Info.Kind == snapshot.KindCommitted {
		return sn.Usage, nil
	}
	return diskUsage(filepath.Join(sn.Dir, "fs")), nil
}

func diskUsage(dir string) snapshot.Usage {
	var u snapshot.Usage
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		u.Inodes++
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			u.Size += info.Size()
		}
		return nil
	})
	return u
}

func (s *testSnapshotter) mounts(sn *fakeSnap) []mount.Mount {
	fsDir := filepath.Join(sn.Dir, "fs")
	ro := sn.Info.Kind == snapshot.KindView
	if !s.overlay || sn.Info.Parent == "" {
		opts := []string{"rbind", "rw"}
		if ro {
			opts = []string{"rbind", "ro"}
		}
		return []mount.Mount{{Type: "bind", Source: fsDir, Options: opts}}
	}
	var lowers []string
	for p := sn.Info.Parent; p != ""; p = s.state.Snaps[p].Info.Parent {
		lowers = append(lowers, filepath.Join(s.state.Snaps[p].Dir, "fs"))
	}
	if ro {
		return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + strings.Join(append([]string{fsDir}, lowers...), ":")}}}
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + fsDir, "workdir=" + filepath.Join(sn.Dir, "work"),
	}}}
}

func (s *testSnapshotter) Mounts(_ context.Context, key string) ([]mount.Mount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.state.Snaps[key]
	if !ok {
		return nil, errdefs.ErrNotFound
	}
	return s.mounts(sn), nil
}

func (s *testSnapshotter) create(key, parent string, kind snapshot.Kind, opts []snapshot.Opt) ([]mount.Mount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.state.Snaps[key]; ok {
		return nil, fmt.Errorf("snapshot %s: %w", key, errdefs.ErrAlreadyExists)
	}
	if parent != "" {
		p, ok := s.state.Snaps[parent]
		if !ok || p.Info.Kind != snapshot.KindCommitted {
			return nil, fmt.Errorf("parent %s: %w", parent, errdefs.ErrInvalidParameter)
		}
	}
	info := snapshot.Info{Kind: kind, Name: key, Parent: parent, Created: time.Now(), Updated: time.Now()}
	for _, o := range opts {
		if err := o(&info); err != nil {
			return nil, err
		}
	}
	s.state.Next++
	dir := filepath.Join(s.root, fmt.Sprint(s.state.Next))
	if err := os.MkdirAll(filepath.Join(dir, "fs"), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o700); err != nil {
		return nil, err
	}
	if parent != "" && (!s.overlay) {
		src := filepath.Join(s.state.Snaps[parent].Dir, "fs") + "/."
		if out, err := exec.Command("cp", "-a", src, filepath.Join(dir, "fs")).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("copy parent: %v: %s", err, out)
		}
	}
	sn := &fakeSnap{Info: info, Dir: dir}
	s.state.Snaps[key] = sn
	if err := s.save(); err != nil {
		return nil, err
	}
	return s.mounts(sn), nil
}

func (s *testSnapshotter) Prepare(_ context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return s.create(key, parent, snapshot.KindActive, opts)
}

func (s *testSnapshotter) View(_ context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return s.create(key, parent, snapshot.KindView, opts)
}

func (s *testSnapshotter) Commit(_ context.Context, name, key string, opts ...snapshot.Opt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.state.Snaps[key]
	if !ok || sn.Info.Kind != snapshot.KindActive {
		return fmt.Errorf("active snapshot %s: %w", key, errdefs.ErrNotFound)
	}
	if _, ok := s.state.Snaps[name]; ok {
		return fmt.Errorf("snapshot %s: %w", name, errdefs.ErrAlreadyExists)
	}
	for _, o := range opts {
		if err := o(&sn.Info); err != nil {
			return err
		}
	}
	sn.Usage = diskUsage(filepath.Join(sn.Dir, "fs"))
	delete(s.state.Snaps, key)
	sn.Info.Name, sn.Info.Kind = name, snapshot.KindCommitted
	s.state.Snaps[name] = sn
	return s.save()
}

func (s *testSnapshotter) Remove(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.state.Snaps[key]
	if !ok {
		return fmt.Errorf("snapshot %s: %w", key, errdefs.ErrNotFound)
	}
	for _, o := range s.state.Snaps {
		if o.Info.Parent == key {
			return fmt.Errorf("snapshot %s has children: %w", key, errdefs.ErrConflict)
		}
	}
	delete(s.state.Snaps, key)
	if err := s.save(); err != nil {
		return err
	}
	return os.RemoveAll(sn.Dir)
}

func (s *testSnapshotter) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	s.mu.Lock()
	var infos []snapshot.Info
	for _, sn := range s.state.Snaps {
		infos = append(infos, sn.Info)
	}
	s.mu.Unlock()
	for _, i := range infos {
		if err := fn(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (s *testSnapshotter) Close() error { return nil }
