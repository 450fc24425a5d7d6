package cgroups

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// v1Manager drives one directory in every mounted v1 hierarchy.
type v1Manager struct {
	dirs      []v1Dir
	pageSizes []string // the host's hugepage sizes, for checks
	write     writeFunc
}

var (
	_ Manager = (*v1Manager)(nil)
	_ backend = (*v1Manager)(nil)
)

type v1Dir struct {
	h   *Hierarchy
	dir string
}

func newV1(l *Layout, cp cgroupPath) *v1Manager {
	m := &v1Manager{write: writeFile, pageSizes: l.HugePageSizes}
	for i := range l.V1 {
		h := &l.V1[i]
		m.dirs = append(m.dirs, v1Dir{h: h, dir: cp.dir(h.Mountpoint, h.OwnDir())})
	}
	return m
}

func loadV1(l *Layout, paths map[string]string) (*v1Manager, error) {
	m := &v1Manager{write: writeFile, pageSizes: l.HugePageSizes}
	seen := map[*Hierarchy]string{}
	for _, key := range sortedKeys(paths) {
		dir := paths[key]
		h := l.V1Hierarchy(key)
		if h == nil {
			return nil, fmt.Errorf("cgroups: load %q: no such v1 hierarchy on this host: %w", key, errdefs.ErrInvalidParameter)
		}
		if err := checkLoadedDir(key, dir, h.Mountpoint); err != nil {
			return nil, err
		}
		if prev, ok := seen[h]; ok {
			if prev != dir {
				return nil, fmt.Errorf("cgroups: load: %q and another controller of the same hierarchy disagree (%s, %s): %w", key, prev, dir, errdefs.ErrInvalidParameter)
			}
			continue
		}
		seen[h] = dir
		m.dirs = append(m.dirs, v1Dir{h: h, dir: dir})
	}
	return m, nil
}

// dir returns the cgroup directory for controller, or "" if not mounted.
func (m *v1Manager) dir(controller string) string {
	for _, d := range m.dirs {
		if d.h.Has(controller) {
			return d.dir
		}
	}
	return ""
}

func (m *v1Manager) Apply(pid int) error {
	for _, d := range m.dirs {
		var created func(string) error
		if d.h.Has("cpuset") {
			created = m.fillCpuset
		}
		if err := mkdirAll(d.h.Mountpoint, d.dir, created); err != nil {
			return err
		}
		if d.h.Has("cpuset") {
			// A cgroup created earlier by someone else may still be empty.
			if err := m.ensureCpuset(d.h.Mountpoint, d.dir); err != nil {
				return err
			}
		}
	}
	if pid <= 0 {
		return nil
	}
	for _, d := range m.dirs {
		if err := writePid(m.write, d.dir, pid); err != nil {
			return err
		}
	}
	return nil
}

// fillCpuset gives a new cpuset cgroup its parent's cpus and mems: v1
// creates it with empty ones, and no task may join an empty cpuset.
func (m *v1Manager) fillCpuset(dir string) error {
	parent := path.Dir(dir)
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		v, err := readFile(path.Join(parent, f))
		if err != nil {
			return err
		}
		if v = strings.TrimSpace(v); v == "" {
			return fmt.Errorf("cpuset %s: parent %s has no %s: %w", dir, parent, f, errdefs.ErrUnavailable)
		}
		if err := m.write(path.Join(dir, f), v); err != nil {
			return err
		}
	}
	return nil
}

// ensureCpuset fills every empty cpuset between the mountpoint and dir,
// top down; one read per file and level when all are filled already.
func (m *v1Manager) ensureCpuset(mountpoint, dir string) error {
	rel := strings.TrimPrefix(strings.TrimPrefix(dir, mountpoint), "/")
	cur := mountpoint
	for e := range strings.SplitSeq(rel, "/") {
		cur = path.Join(cur, e)
		cpus, err := readFile(path.Join(cur, "cpuset.cpus"))
		if err != nil {
			return err
		}
		mems, err := readFile(path.Join(cur, "cpuset.mems"))
		if err != nil {
			return err
		}
		if strings.TrimSpace(cpus) == "" || strings.TrimSpace(mems) == "" {
			if err := m.fillCpuset(cur); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	return setResources(r, only(m, r))
}

const freezeTimeout = 5 * time.Second

func (m *v1Manager) Freeze() error {
	dir := m.dir("freezer")
	if dir == "" {
		return notMounted("freeze", "freezer")
	}
	state := path.Join(dir, "freezer.state")
	if err := m.write(state, "FROZEN"); err != nil {
		return err
	}
	// v1 has no event for "frozen": poll, starting fast because an idle
	// container freezes within microseconds.
	deadline := time.Now().Add(freezeTimeout)
	delay := 100 * time.Microsecond
	for {
		s, err := readFile(state)
		if err != nil {
			return err
		}
		if strings.TrimSpace(s) == "FROZEN" {
			return nil
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("freeze %s: tasks still %s after %v: %w", dir, strings.TrimSpace(s), freezeTimeout, errdefs.ErrUnavailable)
			if terr := m.write(state, "THAWED"); terr != nil {
				err = errors.Join(err, terr)
			}
			return err
		}
		time.Sleep(delay)
		delay = min(delay*2, 10*time.Millisecond)
	}
}

func (m *v1Manager) Thaw() error {
	dir := m.dir("freezer")
	if dir == "" {
		return notMounted("freeze", "freezer")
	}
	return m.write(path.Join(dir, "freezer.state"), "THAWED")
}

func (m *v1Manager) Frozen() (bool, error) {
	dir := m.dir("freezer")
	if dir == "" {
		return false, notMounted("freeze", "freezer")
	}
	s, err := readFile(path.Join(dir, "freezer.state"))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(s) == "FROZEN", nil
}

// Pids reads the hierarchy most likely to hold every process: processes
// are put in all hierarchies, and pids and freezer are the ones a
// container cannot leave without the runtime noticing.
func (m *v1Manager) Pids() ([]int, error) {
	for _, c := range []string{"pids", "freezer", "devices", "memory", "cpu"} {
		if dir := m.dir(c); dir != "" {
			return readProcs(dir)
		}
	}
	if len(m.dirs) > 0 {
		return readProcs(m.dirs[0].dir)
	}
	return nil, notMounted("pids", "any v1")
}

func (m *v1Manager) Stats() (*Stats, error) {
	s := &Stats{}
	if err := m.stats(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (m *v1Manager) Destroy() error {
	var errs []error
	for _, d := range m.dirs {
		if err := removeTree(d.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *v1Manager) Paths() map[string]string {
	p := make(map[string]string)
	m.addPaths(p)
	return p
}

func (m *v1Manager) addPaths(p map[string]string) {
	for _, d := range m.dirs {
		for _, c := range d.h.Controllers {
			p[c] = d.dir
		}
	}
}
