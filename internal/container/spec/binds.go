package spec

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

var propagations = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// checkBinds makes the container's own mounts into spec mounts: the ones
// the daemon resolved from the container's mount points (in.Mounts), or,
// when it gives none, HostConfig.Binds and HostConfig.Mounts parsed here
// (host paths and tmpfs only: volumes need the daemon's volume store, and
// a -v host path that does not exist is refused, since Generate changes
// nothing on the host).
func (g *generator) checkBinds() error {
	mounts := g.in.Mounts
	if mounts == nil {
		var err error
		if mounts, err = g.hostMounts(); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for dest := range g.host.Tmpfs {
		seen[path.Clean(dest)] = true
	}
	for _, mt := range mounts {
		m, err := g.convertMount(mt)
		if err != nil {
			return err
		}
		if seen[m.Destination] {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "Duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
		g.binds = append(g.binds, m)
	}
	return nil
}

// hostMounts parses HostConfig.Binds and HostConfig.Mounts for a caller
// that resolved no mounts.
func (g *generator) hostMounts() ([]mount.Mount, error) {
	var out []mount.Mount
	add := func(mp *container.MountPoint) error {
		switch mp.Type {
		case mount.TypeVolume:
			return errdefs.Errorf(errdefs.ErrNotImplemented, "volume %q at %s: volumes are resolved by the daemon", mp.Name, mp.Destination)
		case mount.TypeBind:
			if _, err := os.Stat(mp.Source); err != nil {
				return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"bind\": bind source path does not exist: %s", mp.Source)
			}
		}
		out = append(out, MountFor(mp, mp.Source))
		return nil
	}
	for _, b := range g.host.Binds {
		mp, err := ParseBind(b)
		if err != nil {
			return nil, err
		}
		if err := add(mp); err != nil {
			return nil, err
		}
	}
	for _, m := range g.host.Mounts {
		mp, err := ParseMount(m)
		if err != nil {
			return nil, err
		}
		if err := add(mp); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MountFor is the mount a container gets for mount point mp, in --mount's
// form, to pass in Input.Mounts: a bind of hostPath (a bind's source, or
// the volume's directory) or a tmpfs, with mp's read-only flag (which
// --volumes-from :ro may have set), propagation and bind options.
func MountFor(mp *container.MountPoint, hostPath string) mount.Mount {
	m := mount.Mount{Type: mp.Type, Source: hostPath, Target: mp.Destination, ReadOnly: !mp.RW}
	switch mp.Type {
	case mount.TypeVolume:
		m.Type = mount.TypeBind
		if mp.Propagation != "" {
			m.BindOptions = &mount.BindOptions{Propagation: mp.Propagation}
		}
	case mount.TypeBind:
		o := mount.BindOptions{}
		if mp.Spec.BindOptions != nil {
			o = *mp.Spec.BindOptions
		}
		o.Propagation = mp.Propagation
		o.CreateMountpoint = false
		m.BindOptions = &o
	case mount.TypeTmpfs:
		m.Source = ""
		if mp.Spec.TmpfsOptions != nil {
			o := *mp.Spec.TmpfsOptions
			m.TmpfsOptions = &o
		}
	}
	return m
}

// convertMount makes one resolved mount a spec mount.
func (g *generator) convertMount(m mount.Mount) (specs.Mount, error) {
	switch m.Type {
	case mount.TypeBind:
		recursiveRO, nonRecursive, propagation := true, false, "rprivate"
		if o := m.BindOptions; o != nil {
			if o.ReadOnlyNonRecursive && o.ReadOnlyForceRecursive {
				return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "mount options conflict: ReadOnlyNonRecursive && ReadOnlyForceRecursive")
			}
			nonRecursive = o.NonRecursive
			recursiveRO = !o.ReadOnlyNonRecursive
			if o.Propagation != "" {
				if !propagations[string(o.Propagation)] {
					return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config: invalid propagation mode: %s", o.Propagation)
				}
				propagation = string(o.Propagation)
			}
		}
		if !path.IsAbs(m.Source) {
			return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		return g.bindMount(m.Source, m.Target, m.ReadOnly, nonRecursive, !recursiveRO, propagation)
	case mount.TypeTmpfs:
		if m.Source != "" {
			return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"tmpfs\": field Source must not be specified")
		}
		if err := checkMountTarget("tmpfs", m.Target); err != nil {
			return specs.Mount{}, err
		}
		opts, err := tmpfsMountOptions(m)
		if err != nil {
			return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"tmpfs\": %v", err)
		}
		return specs.Mount{Destination: path.Clean(m.Target), Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	default:
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type %q: mount type unknown", m.Type)
	}
}

// tmpfsMountOptions are the spec options of a --mount type=tmpfs.
func tmpfsMountOptions(m mount.Mount) ([]string, error) {
	var data []string
	if o := m.TmpfsOptions; o != nil {
		if o.SizeBytes < 0 {
			return nil, fmt.Errorf("invalid tmpfs size %d", o.SizeBytes)
		}
		if o.SizeBytes > 0 {
			data = append(data, "size="+strconv.FormatInt(o.SizeBytes, 10))
		}
		if o.Mode != 0 {
			// The CLI sends the octal digits the user typed as raw bits.
			data = append(data, fmt.Sprintf("mode=%o", uint32(o.Mode)))
		}
		for _, kv := range o.Options {
			data = append(data, strings.Join(kv, "="))
		}
	}
	if m.ReadOnly {
		data = append(data, "ro")
	}
	return tmpfsOptions(strings.Join(data, ","))
}

func checkMountTarget(kind, target string) error {
	if !path.IsAbs(target) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type %q: invalid mount path: '%s' mount path must be absolute", kind, target)
	}
	if path.Clean(target) == "/" {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid specification: destination can't be '/'")
	}
	return nil
}

// bindMount is a bind of a host path, with docker's options: rbind (bind
// when non-recursive), then rro (ro on other runtimes, or when asked
// non-recursive) for a read-only one, then the propagation.
func (g *generator) bindMount(src, dst string, readOnly, nonRecursive, roNonRecursive bool, propagation string) (specs.Mount, error) {
	if err := checkMountTarget("bind", dst); err != nil {
		return specs.Mount{}, err
	}
	if _, err := os.Stat(src); err != nil {
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"bind\": bind source path does not exist: %s", src)
	}
	opts := []string{"rbind"}
	if nonRecursive {
		opts[0] = "bind"
	}
	if readOnly {
		// Recursive read-only needs mount_setattr; berth-runtime has it,
		// and others may not, so they get docker's older "ro".
		if roNonRecursive || nonRecursive || !g.berthRuntime() {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rro")
		}
	}
	opts = append(opts, propagation)
	return specs.Mount{Destination: path.Clean(dst), Type: "bind", Source: path.Clean(src), Options: opts}, nil
}

// rootfsPropagation is what a shared or slave bind needs of the root's
// propagation (docker's rule); "" leaves it alone.
func (g *generator) rootfsPropagation() string {
	want := ""
	for _, m := range g.binds {
		for _, o := range m.Options {
			switch o {
			case "shared", "rshared":
				want = "shared"
			case "slave", "rslave":
				if want == "" {
					want = "rslave"
				}
			}
		}
	}
	return want
}

// berthRuntime: the spec goes to berth-runtime (named or by path), whose
// features Generate knows.
func (g *generator) berthRuntime() bool {
	switch filepath.Base(g.in.Runtime) {
	case ".", "berth", "berth-runtime":
		return true
	}
	return false
}
