package cgroups

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/errdefs"
)

// Adopt turns spare, a cgroup made ahead of its container (with its
// directories and, maybe, processes), into target's: each cgroup v1
// directory is renamed to target's, which cgroup v1 allows within one
// parent and which costs no process a move (a move waits for an RCU grace
// period, see the runtime's nsexec.c). cgroup2 has no rename: a hybrid
// host's cgroup2 directory, which carries no controller the container
// needs, keeps the spare's name. Adopt refuses, with nothing renamed,
// whatever it cannot do so: a cgroup2-only host, directories with other
// parents, a container that needs cgroup2 controllers. On a failure part
// way the renamed directories are named back.
//
// The returned Manager has target's paths but for the cgroup2 one; its
// directories exist, and Set writes the container's limits.
func Adopt(spare, target Manager) (Manager, error) {
	var sv1, tv1 *v1Manager
	var sv2 *v2Manager
	switch s := spare.(type) {
	case *v1Manager:
		t, ok := target.(*v1Manager)
		if !ok {
			return nil, errNoAdopt("the cgroup layouts differ")
		}
		sv1, tv1 = s, t
	case *hybridManager:
		t, ok := target.(*hybridManager)
		if !ok {
			return nil, errNoAdopt("the cgroup layouts differ")
		}
		if len(t.v2.want) > 0 {
			return nil, errNoAdopt("the container needs cgroup2 controllers")
		}
		sv1, tv1, sv2 = s.v1, t.v1, s.v2
	default:
		return nil, errNoAdopt("cgroup2 directories cannot be renamed")
	}
	if len(sv1.dirs) != len(tv1.dirs) {
		return nil, errNoAdopt("the cgroup layouts differ")
	}
	for i, d := range sv1.dirs {
		if d.h != tv1.dirs[i].h || filepath.Dir(d.dir) != filepath.Dir(tv1.dirs[i].dir) {
			return nil, errNoAdopt("the cgroup parents differ")
		}
	}
	for i, d := range sv1.dirs {
		if err := os.Rename(d.dir, tv1.dirs[i].dir); err != nil {
			for j := i - 1; j >= 0; j-- {
				_ = os.Rename(tv1.dirs[j].dir, sv1.dirs[j].dir)
			}
			return nil, fmt.Errorf("cgroups: adopt %s: %w", d.dir, err)
		}
	}
	v1 := &v1Manager{dirs: tv1.dirs, pageSizes: tv1.pageSizes, write: tv1.write}
	if sv2 == nil {
		return v1, nil
	}
	return &hybridManager{v1: v1, v2: sv2}, nil
}

func errNoAdopt(why string) error {
	return fmt.Errorf("cgroups: adopt a spare cgroup: %s: %w", why, errdefs.ErrNotImplemented)
}
