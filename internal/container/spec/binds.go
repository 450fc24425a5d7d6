package spec

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bindModes are the words a -v bind's third field may hold.
var bindModes = map[string]bool{
	"ro": true, "rw": true, "z": true, "Z": true, "nocopy": true,
	"consistent": true, "cached": true, "delegated": true,
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

var propagations = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// checkBinds parses HostConfig.Binds (-v /host:/ctr[:opts]) and
// HostConfig.Mounts (--mount) into spec mounts. Host paths and tmpfs are
// done here; named and anonymous volumes wait for the volume store and are
// NotImplemented. A missing host path is refused (docker's -v would make
// the directory; Generate changes nothing on the host).
func (g *generator) checkBinds() error {
	seen := map[string]bool{}
	for dest := range g.host.Tmpfs {
		seen[path.Clean(dest)] = true
	}
	add := func(m specs.Mount) error {
		if seen[m.Destination] {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "Duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
		g.binds = append(g.binds, m)
		return nil
	}
	for _, b := range g.host.Binds {
		m, err := g.parseBind(b)
		if err != nil {
			return err
		}
		if err := add(m); err != nil {
			return err
		}
	}
	for _, mt := range g.host.Mounts {
		m, err := g.convertMount(mt)
		if err != nil {
			return err
		}
		if err := add(m); err != nil {
			return err
		}
	}
	return nil
}

// parseBind reads one -v value.
func (g *generator) parseBind(spec string) (specs.Mount, error) {
	parts := strings.Split(spec, ":")
	var src, dst, mode string
	switch len(parts) {
	case 1:
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrNotImplemented, "anonymous volumes are not supported yet: %s", spec)
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, mode = parts[0], parts[1], parts[2]
	default:
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid volume specification: '%s'", spec)
	}
	if src == "" || dst == "" {
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid volume specification: '%s'", spec)
	}
	if !path.IsAbs(src) {
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrNotImplemented, "named volumes are not supported yet: %s", src)
	}
	readOnly, propagation := false, "rprivate"
	if mode != "" {
		for m := range strings.SplitSeq(mode, ",") {
			if !bindModes[m] {
				return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mode: %s", mode)
			}
			switch {
			case m == "ro":
				readOnly = true
			case m == "rw":
				readOnly = false
			case propagations[m]:
				propagation = m
			}
		}
	}
	return g.bindMount(src, dst, readOnly, false, false, propagation, spec)
}

// convertMount reads one --mount value.
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
		return g.bindMount(m.Source, m.Target, m.ReadOnly, nonRecursive, !recursiveRO, propagation, "")
	case mount.TypeTmpfs:
		if m.Source != "" {
			return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"tmpfs\": field Source must not be specified")
		}
		if err := checkMountTarget("tmpfs", m.Target); err != nil {
			return specs.Mount{}, err
		}
		var data []string
		if o := m.TmpfsOptions; o != nil {
			if o.SizeBytes < 0 {
				return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"tmpfs\": invalid tmpfs size %d", o.SizeBytes)
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
		opts, err := tmpfsOptions(strings.Join(data, ","))
		if err != nil {
			return specs.Mount{}, err
		}
		return specs.Mount{Destination: path.Clean(m.Target), Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	case mount.TypeVolume, mount.TypeImage:
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrNotImplemented, "mount type %q is not supported yet", m.Type)
	default:
		return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config: mount type unknown: %q", m.Type)
	}
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
func (g *generator) bindMount(src, dst string, readOnly, nonRecursive, roNonRecursive bool, propagation, spec string) (specs.Mount, error) {
	if err := checkMountTarget("bind", dst); err != nil {
		if spec != "" {
			return specs.Mount{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid volume specification: '%s': %v", spec, err)
		}
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
