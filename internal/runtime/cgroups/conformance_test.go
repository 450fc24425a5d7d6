package cgroups_test

import (
	"testing"

	"github.com/berth-project/berth/internal/runtime/cgroups"
	"github.com/berth-project/berth/internal/runtime/cgroups/cgroupstest"
)

// TestConformance runs the Manager suite on this host for every
// implementation the host can carry: the one New picks for the host, and
// on a hybrid host also a v1-only and a v2-only view of it (the v2 view
// has no controllers on a hybrid host but still freezes, kills, lists and
// removes for real).
func TestConformance(t *testing.T) {
	host, err := cgroups.DetectLayout()
	if err != nil {
		t.Fatal(err)
	}
	views := map[string]*cgroups.Layout{host.Mode.String(): host}
	if host.Mode == cgroups.Hybrid {
		views["legacy view"] = &cgroups.Layout{Mode: cgroups.Legacy, V1: host.V1, HugePageSizes: host.HugePageSizes}
		views["unified view"] = &cgroups.Layout{Mode: cgroups.Unified, Unified: host.Unified, HugePageSizes: host.HugePageSizes}
	}
	for name, l := range views {
		t.Run(name, func(t *testing.T) {
			cgroupstest.Suite(t, cgroupstest.Factory{
				New: func(t *testing.T, id string) (cgroups.Manager, error) {
					// Below our own cgroups, except on a pure v2 tree, whose
					// own cgroup holds processes and cannot delegate.
					p := id
					if l.Mode == cgroups.Unified {
						p = "/" + id
					}
					return cgroups.New(l, cgroups.Config{Path: p})
				},
				Load: func(paths map[string]string) (cgroups.Manager, error) { return cgroups.Load(l, paths) },
			})
		})
	}
}
