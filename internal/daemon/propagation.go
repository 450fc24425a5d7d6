package daemon

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
)

// checkBindPropagation refuses, as dockerd does at start, a shared bind
// whose source is not on a shared mount and a slave bind whose source is
// on neither a shared nor a slave one: the runtime would run it anyway,
// and the propagation asked for would never happen. It looks at the host
// here rather than in spec.Generate, which reads nothing of the host's
// mounts.
func checkBindPropagation(mounts []specs.Mount) error {
	for _, m := range mounts {
		if m.Type != "bind" {
			continue
		}
		var shared, slave bool
		for _, o := range m.Options {
			switch o {
			case "shared", "rshared":
				shared = true
			case "slave", "rslave":
				slave = true
			}
		}
		if !shared && !slave {
			continue
		}
		p, err := mount.PropagationOf(m.Source)
		if err != nil {
			return fmt.Errorf("bind at %s: %w", m.Destination, err)
		}
		switch {
		case shared && !p.Shared:
			return errdefs.Errorf(errdefs.ErrInvalidParameter,
				"path %s is mounted on %s but it is not a shared mount", m.Source, p.MountPoint)
		case slave && !p.Shared && !p.Slave:
			return errdefs.Errorf(errdefs.ErrInvalidParameter,
				"path %s is mounted on %s but it is not a shared or slave mount", m.Source, p.MountPoint)
		}
	}
	return nil
}
