package spec

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/blkiodev"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultDeviceRules is docker's device cgroup list: deny everything, allow
// the standard nodes, and deny /dev/net/tun's neighbour 10:229 (fuse)
// explicitly. Runtimes add the terminal devices themselves.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	i := func(v int64) *int64 { return &v }
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(5), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(9), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(8), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(0), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(1), Access: "rwm"},
		{Allow: false, Type: "c", Major: i(10), Minor: i(229), Access: "rwm"},
	}
}

var (
	deviceCgroupRuleRE = regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)
	devicePermsRE      = regexp.MustCompile(`^[rwm]{1,3}$`)
)

// checkDevices resolves --device mappings (stat the host node, or every
// node under a host directory) and parses --device-cgroup-rule, keeping the
// results for withDevices.
func (g *generator) checkDevices() error {
	g.devRules = defaultDeviceRules()
	if g.host.Privileged {
		devs, err := hostDevices()
		if err != nil {
			return err
		}
		g.devices = devs
		for _, m := range g.host.Devices {
			// The host's node is already there under its own path.
			if m.PathInContainer == "" || m.PathInContainer == m.PathOnHost {
				continue
			}
			d, _, err := devicesFromPath(m.PathOnHost, m.PathInContainer, "rwm")
			if err != nil {
				return err
			}
			g.devices = append(g.devices, d...)
		}
		g.devRules = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	for _, m := range g.host.Devices {
		perms := m.CgroupPermissions
		if perms == "" {
			perms = "rwm"
		}
		if !devicePermsRE.MatchString(perms) {
			return invalid("invalid device mode: %s", perms)
		}
		inContainer := m.PathInContainer
		if inContainer == "" {
			inContainer = m.PathOnHost
		}
		if !filepath.IsAbs(inContainer) {
			return invalid("%s is not an absolute path", inContainer)
		}
		d, rules, err := devicesFromPath(m.PathOnHost, inContainer, perms)
		if err != nil {
			return err
		}
		g.devices = append(g.devices, d...)
		g.devRules = append(g.devRules, rules...)
	}
	for _, rule := range g.host.DeviceCgroupRules {
		r, err := parseDeviceCgroupRule(rule)
		if err != nil {
			return err
		}
		g.devRules = append(g.devRules, r)
	}
	return nil
}

func parseDeviceCgroupRule(rule string) (specs.LinuxDeviceCgroup, error) {
	m := deviceCgroupRuleRE.FindStringSubmatch(rule)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, invalid("invalid device cgroup rule format: '%s'", rule)
	}
	num := func(s string) (*int64, error) {
		if s == "*" {
			v := int64(-1)
			return &v, nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, invalid("invalid device cgroup rule format: '%s'", rule)
		}
		return &v, nil
	}
	major, err := num(m[2])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	minor, err := num(m[3])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: major, Minor: minor, Access: m[4]}, nil
}

func (g *generator) withDevices(_ context.Context, s *specs.Spec) error {
	s.Linux.Devices = append([]specs.LinuxDevice{}, g.devices...)
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, g.devRules...)
	return nil
}

// deviceFromPath describes the device node at path (following no
// symlink), or errNotDevice.
func deviceFromPath(path string) (*specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		typ = "b"
	case unix.S_IFCHR:
		typ = "c"
	default:
		return nil, errNotDevice
	}
	mode := fs.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	return &specs.LinuxDevice{
		Type:     typ,
		Path:     path,
		Major:    int64(unix.Major(st.Rdev)),
		Minor:    int64(unix.Minor(st.Rdev)),
		FileMode: &mode,
		UID:      &uid,
		GID:      &gid,
	}, nil
}

var errNotDevice = errors.New("not a device node")

// devicesFromPath is docker's: a device node (through one symlink), or
// every node under a directory, placed at pathInContainer.
func devicesFromPath(onHost, inContainer, perms string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	resolved := onHost
	if fi, err := os.Lstat(onHost); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if p, err := filepath.EvalSymlinks(onHost); err == nil {
			resolved = p
		}
	}
	rule := func(d *specs.LinuxDevice) specs.LinuxDeviceCgroup {
		major, minor := d.Major, d.Minor
		return specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: perms}
	}
	d, err := deviceFromPath(resolved)
	if err == nil {
		d.Path = inContainer
		return []specs.LinuxDevice{*d}, []specs.LinuxDeviceCgroup{rule(d)}, nil
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	if errors.Is(err, errNotDevice) {
		if fi, statErr := os.Stat(resolved); statErr == nil && fi.IsDir() {
			_ = filepath.WalkDir(resolved, func(p string, _ fs.DirEntry, _ error) error {
				cd, e := deviceFromPath(p)
				if e != nil {
					return nil
				}
				cd.Path = strings.Replace(p, resolved, inContainer, 1)
				devs = append(devs, *cd)
				rules = append(rules, rule(cd))
				return nil
			})
		}
	}
	if len(devs) > 0 {
		return devs, rules, nil
	}
	return nil, nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "error gathering device information while adding custom device %q: %s", onHost, err)
}

// hostDevices is every device node under the host's /dev for a privileged
// container, minus the directories every container gets its own of.
func hostDevices() ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	skipDirs := map[string]bool{"pts": true, "shm": true, "fd": true, "mqueue": true, ".lxc": true, ".lxd-mounts": true, ".udev": true}
	err := filepath.WalkDir("/dev", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "/dev" {
				return err
			}
			return nil
		}
		if d.IsDir() {
			if p != "/dev" && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "console" {
			return nil
		}
		dev, err := deviceFromPath(p)
		if err != nil {
			return nil
		}
		out = append(out, *dev)
		return nil
	})
	return out, err
}

// blockDeviceNumbers stats a host device for the blkio settings.
func blockDeviceNumbers(path string) (major, minor int64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, errdefs.Errorf(errdefs.ErrInvalidParameter, "%w", &os.PathError{Op: "stat", Path: path, Err: err})
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

func throttleDevices(list []*blkiodev.ThrottleDevice) ([]specs.LinuxThrottleDevice, error) {
	var out []specs.LinuxThrottleDevice
	for _, d := range list {
		if d == nil {
			continue
		}
		major, minor, err := blockDeviceNumbers(d.Path)
		if err != nil {
			return nil, err
		}
		t := specs.LinuxThrottleDevice{Rate: d.Rate}
		t.Major, t.Minor = major, minor
		out = append(out, t)
	}
	return out, nil
}
