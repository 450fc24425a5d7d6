package cgroups

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// v2Manager drives one directory of the unified hierarchy. On a hybrid
// host it is responsible only for the controllers v1 left to cgroup2.
type v2Manager struct {
	mountpoint string
	dir        string
	// owned lists the controllers this manager may use: those of the
	// unified root, minus any mounted in v1.
	owned     []string
	pageSizes []string
	// want lists the controllers Apply enables for the cgroup.
	want  []string
	write writeFunc

	mu sync.Mutex
	// enabled caches controllers known to be on in every ancestor's
	// cgroup.subtree_control, so updates do not walk the tree again.
	enabled map[string]bool
}

var (
	_ Manager = (*v2Manager)(nil)
	_ Killer  = (*v2Manager)(nil)
	_ backend = (*v2Manager)(nil)
)

func newV2(l *Layout, cp cgroupPath, hybrid bool) *v2Manager {
	u := l.Unified
	anchor := u.OwnDir()
	// On a pure v2 host a relative path starts beside the caller's cgroup,
	// at its parent, as runc's v2 driver does: the caller's own cgroup
	// holds a process (the caller), and cgroup v2's no-internal-processes
	// rule forbids such a cgroup to hand controllers to a child, so no
	// limit could be set in a cgroup below it. Never above the mountpoint.
	if !hybrid && !cp.abs && anchor != u.Mountpoint {
		anchor = path.Dir(anchor)
	}
	m := &v2Manager{
		mountpoint: u.Mountpoint,
		dir:        cp.dir(u.Mountpoint, anchor),
		pageSizes:  l.HugePageSizes,
		write:      writeFile,
		enabled:    map[string]bool{},
	}
	for _, c := range u.Controllers {
		if !hybrid || l.V1Hierarchy(c) == nil {
			m.owned = append(m.owned, c)
		}
	}
	return m
}

func loadV2(l *Layout, dir string) (*v2Manager, error) {
	if l.Unified == nil {
		return nil, fmt.Errorf("cgroups: load %s: this host has no cgroup2 mount: %w", dir, errdefs.ErrInvalidParameter)
	}
	if err := checkLoadedDir("", dir, l.Unified.Mountpoint); err != nil {
		return nil, err
	}
	m := newV2(l, cgroupPath{abs: true, rel: "x"}, l.Mode == Hybrid)
	m.dir = dir
	return m, nil
}

// statsControllers are enabled on a pure v2 host even when no limit asks
// for them: `docker stats` reads their files.
var statsControllers = []string{"cpu", "memory", "io", "pids"}

// wanted lists the controllers Apply should enable: on a pure v2 host the
// stats controllers and those r needs; on a hybrid host only those r needs
// that v1 (h) does not provide. No-internal-processes makes every
// controller enabled in an ancestor a constraint on it, so take no more.
func (m *v2Manager) wanted(r *specs.LinuxResources, h *v1Manager) []string {
	var want []string
	if h == nil {
		want = append(want, statsControllers...)
	}
	for _, g := range requested(r) {
		if h != nil && h.supports(g, r) == nil {
			continue
		}
		want = append(want, v2Controllers(g, r)...)
	}
	var out []string
	for _, c := range want {
		if slices.Contains(m.owned, c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// v2Controllers lists the cgroup2 controllers group g of r writes to.
func v2Controllers(g group, r *specs.LinuxResources) []string {
	switch g {
	case grpCPUSet:
		return []string{"cpuset"}
	case grpMemory:
		return []string{"memory"}
	case grpCPU:
		return []string{"cpu"}
	case grpPids:
		return []string{"pids"}
	case grpBlockIO:
		return []string{"io"}
	case grpHugetlb:
		return []string{"hugetlb"}
	case grpRdma:
		return []string{"rdma"}
	case grpUnified:
		var cs []string
		for k := range r.Unified {
			if c := unifiedController(k); c != "" && !slices.Contains(cs, c) {
				cs = append(cs, c)
			}
		}
		slices.Sort(cs)
		return cs
	}
	return nil // devices (eBPF) and the cgroup core need no controller
}

// unifiedController is the controller a unified key belongs to, or "" for
// the core's cgroup.* files.
func unifiedController(key string) string {
	c, _, _ := strings.Cut(key, ".")
	if c == "cgroup" {
		return ""
	}
	return c
}

// ApplyUnified makes the cgroup directory; on a v2 host that is all of it.
func (m *v2Manager) ApplyUnified() error { return m.Apply(-1) }

func (m *v2Manager) Apply(pid int) error {
	if err := mkdirAll(m.mountpoint, m.dir, nil); err != nil {
		return err
	}
	// Best effort: a controller that cannot be enabled here only matters
	// if Set needs it, and Set reports it then.
	_ = m.enable(m.want, false)
	if pid > 0 {
		return writePid(m.write, m.dir, pid)
	}
	return nil
}

// enable turns on controllers in cgroup.subtree_control of every ancestor
// of the cgroup, from the hierarchy root down to its parent: a controller
// reaches a cgroup only if its parent enabled it, and a parent can only
// enable what its own parent did. When required, a controller that cannot
// be enabled is an error; otherwise it is skipped.
func (m *v2Manager) enable(controllers []string, required bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var need []string
	for _, c := range controllers {
		if !m.enabled[c] {
			need = append(need, c)
		}
	}
	if len(need) == 0 {
		return nil
	}
	rel := strings.TrimPrefix(path.Dir(m.dir), m.mountpoint)
	levels := []string{m.mountpoint}
	cur := m.mountpoint
	for e := range strings.SplitSeq(strings.Trim(rel, "/"), "/") {
		if e != "" {
			cur = path.Join(cur, e)
			levels = append(levels, cur)
		}
	}
	for _, level := range levels {
		avail, err := readFile(path.Join(level, "cgroup.controllers"))
		if err != nil {
			return err
		}
		on, err := readFile(path.Join(level, "cgroup.subtree_control"))
		if err != nil {
			return err
		}
		onSet := strings.Fields(strings.ReplaceAll(on, "+", ""))
		var missing, kept []string
		for _, c := range need {
			switch {
			case slices.Contains(onSet, c):
				kept = append(kept, c)
			case slices.Contains(strings.Fields(avail), c):
				missing = append(missing, c)
			case required:
				return fmt.Errorf("controller %s is not available in %s (its parent did not enable it): %w", c, level, errdefs.ErrNotImplemented)
			}
		}
		if len(missing) > 0 {
			enabled, err := m.enableAt(level, missing, required)
			if err != nil {
				return err
			}
			kept = append(kept, enabled...)
		}
		need = kept
	}
	for _, c := range need {
		m.enabled[c] = true
	}
	return nil
}

// enableAt writes the missing controllers to one subtree_control, all at
// once (the common case), or one by one to find those that can be.
func (m *v2Manager) enableAt(level string, missing []string, required bool) ([]string, error) {
	file := path.Join(level, "cgroup.subtree_control")
	line := "+" + strings.Join(missing, " +")
	err := m.write(file, line)
	if err == nil {
		return missing, nil
	}
	// EBUSY: the level holds processes. Going on one by one would be
	// worse than useless: the kernel refuses the domain controllers but
	// accepts the threaded ones (cpu, cpuset, pids) alone, which turns
	// the level, typically the caller's own cgroup, into a threaded
	// domain, and then refuses everything else with EOPNOTSUPP.
	if errdefs.IsConflict(err) {
		if required {
			return nil, busyError(strings.Join(missing, " "), level, err)
		}
		return nil, nil
	}
	var ok []string
	for _, c := range missing {
		err := m.write(file, "+"+c)
		if err == nil {
			ok = append(ok, c)
			continue
		}
		if errdefs.IsConflict(err) {
			if required {
				return nil, busyError(c, level, err)
			}
			return ok, nil
		}
		if required {
			return nil, fmt.Errorf("enable %s: %w", c, err)
		}
	}
	return ok, nil
}

func busyError(controllers, level string, err error) error {
	return fmt.Errorf("enable %s in %s: the cgroup has processes of its own, and cgroup v2 lets only cgroups without processes hand controllers to children (use a cgroupsPath outside the caller's cgroup): %w", controllers, level, err)
}

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	return setResources(r, only(m, r))
}

func (m *v2Manager) Freeze() error {
	if err := m.write(path.Join(m.dir, "cgroup.freeze"), "1"); err != nil {
		return err
	}
	if err := waitFrozen(m.dir, true, freezeTimeout); err != nil {
		if terr := m.write(path.Join(m.dir, "cgroup.freeze"), "0"); terr != nil {
			err = errors.Join(err, terr)
		}
		return err
	}
	return nil
}

func (m *v2Manager) Thaw() error {
	if err := m.write(path.Join(m.dir, "cgroup.freeze"), "0"); err != nil {
		return err
	}
	return waitFrozen(m.dir, false, freezeTimeout)
}

func (m *v2Manager) Frozen() (bool, error) {
	return readFrozen(path.Join(m.dir, "cgroup.events"))
}

func (m *v2Manager) Pids() ([]int, error) { return readProcs(m.dir) }

func (m *v2Manager) Kill() error {
	return m.write(path.Join(m.dir, "cgroup.kill"), "1")
}

func (m *v2Manager) Stats() (*Stats, error) {
	s := &Stats{}
	if err := m.stats(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (m *v2Manager) Destroy() error { return removeTree(m.dir) }

func (m *v2Manager) Paths() map[string]string {
	p := make(map[string]string)
	m.addPaths(p)
	return p
}

func (m *v2Manager) addPaths(p map[string]string) {
	p[""] = m.dir
	for _, c := range m.owned {
		p[c] = m.dir
	}
}
