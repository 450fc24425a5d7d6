package cgroups

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hybridManager serves a host with v1 controllers beside a cgroup2 mount.
// Every group of resources goes to v1 when its controller is mounted
// there, and to the unified hierarchy otherwise (commonly hugetlb, and the
// device filter when v1 has no devices controller). The container always
// gets a unified directory too: it tracks the processes for Pids and Kill,
// and lets the runtime give the container a cgroup2 view.
type hybridManager struct {
	v1 *v1Manager
	v2 *v2Manager
}

var (
	_ Manager = (*hybridManager)(nil)
	_ Killer  = (*hybridManager)(nil)
)

// ApplyUnified makes the cgroup2 directory only.
func (m *hybridManager) ApplyUnified() error { return m.v2.Apply(-1) }

func (m *hybridManager) Apply(pid int) error {
	if err := m.v1.Apply(pid); err != nil {
		return err
	}
	return m.v2.Apply(pid)
}

func (m *hybridManager) Set(r *specs.LinuxResources) error {
	return setResources(r, func(g group) (backend, error) {
		err1 := m.v1.supports(g, r)
		if err1 == nil {
			return m.v1, nil
		}
		err2 := m.v2.supports(g, r)
		if err2 == nil {
			return m.v2, nil
		}
		// Name the hierarchy the user would expect this group in.
		if g == grpUnified || g == grpDevices {
			return nil, err2
		}
		return nil, err1
	})
}

// freezer is v1's when mounted (that is what v1 tools look at), else the
// cgroup2 core freezer.
func (m *hybridManager) freezer() interface {
	Freeze() error
	Thaw() error
	Frozen() (bool, error)
} {
	if m.v1.dir("freezer") != "" {
		return m.v1
	}
	return m.v2
}

func (m *hybridManager) Freeze() error         { return m.freezer().Freeze() }
func (m *hybridManager) Thaw() error           { return m.freezer().Thaw() }
func (m *hybridManager) Frozen() (bool, error) { return m.freezer().Frozen() }

func (m *hybridManager) Pids() ([]int, error) { return m.v2.Pids() }

func (m *hybridManager) Kill() error { return m.v2.Kill() }

func (m *hybridManager) Stats() (*Stats, error) {
	s := &Stats{}
	if err := m.v1.stats(s); err != nil {
		return nil, err
	}
	if err := m.v2.stats(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (m *hybridManager) Destroy() error {
	return errors.Join(m.v1.Destroy(), m.v2.Destroy())
}

func (m *hybridManager) Paths() map[string]string {
	p := make(map[string]string)
	m.v1.addPaths(p)
	m.v2.addPaths(p)
	return p
}
