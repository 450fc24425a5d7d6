package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultDevices are the nodes every container gets (runtime-spec,
// "Default Devices"); /dev/ptmx is a symlink to the container's devpts and
// /dev/console is the terminal's pty, both made elsewhere.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// DefaultDeviceRules are the cgroup device rules the default devices need,
// plus /dev/pts/* and /dev/ptmx for terminals.
func DefaultDeviceRules() []specs.LinuxDeviceCgroup {
	i := func(v int64) *int64 { return &v }
	return []specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(5), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(7), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(8), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(9), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(0), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(1), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(2), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(136), Access: "rwm"},
	}
}

func (r *rootfsSetup) createDevices() error {
	var devs []specs.LinuxDevice
	seen := map[string]bool{}
	for _, d := range r.cfg.Devices {
		devs = append(devs, d)
		seen[filepath.Clean(d.Path)] = true
	}
	for _, d := range defaultDevices {
		if !seen[d.Path] {
			devs = append(devs, d)
		}
	}
	// Nearly every node is in /dev: resolve each parent directory once.
	parents := map[string]*os.File{}
	defer func() {
		for _, h := range parents {
			h.Close()
		}
	}()
	for _, d := range devs {
		dest := filepath.Clean("/" + d.Path)
		if r.cfg.InUserNS {
			// mknod is refused in a user namespace: show the host's node.
			if err := r.bindDevice(dest); err != nil {
				return err
			}
			continue
		}
		dir := filepath.Dir(dest)
		parent, ok := parents[dir]
		if !ok {
			var err error
			if parent, err = r.mkdirInRoot(dir); err != nil {
				return err
			}
			parents[dir] = parent
		}
		if err := createDevice(parent, dest, d); err != nil {
			return err
		}
	}
	return nil
}

// createDevice makes the node d at dest, in the directory parent.
func createDevice(parent *os.File, dest string, d specs.LinuxDevice) error {
	pfd := int(parent.Fd())
	base := filepath.Base(dest)

	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("device %s: unknown type %q", d.Path, d.Type)
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode) & 0o7777
	}
	dev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	err := unix.Mknodat(pfd, base, typ|mode, int(dev))
	if errors.Is(err, unix.EEXIST) {
		// A rootfs may ship placeholder files in /dev; replace them,
		// never a directory.
		var st unix.Stat_t
		if e := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); e == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("device %s: a directory is in the way", d.Path)
		}
		if e := unix.Unlinkat(pfd, base, 0); e != nil {
			return fmt.Errorf("device %s: replace existing file: %w", d.Path, e)
		}
		err = unix.Mknodat(pfd, base, typ|mode, int(dev))
	}
	if err != nil {
		return fmt.Errorf("mknod %s: %w", d.Path, err)
	}
	// mknod's mode went through the umask; state it exactly.
	if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
		return fmt.Errorf("chmod %s: %w", d.Path, err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", d.Path, err)
	}
	return nil
}

func (r *rootfsSetup) bindDevice(dest string) error {
	target, err := r.mountTarget(dest, true)
	if err != nil {
		return err
	}
	defer target.Close()
	return doMount("bind", dest, procFD(target), dest, "", unix.MS_BIND, "")
}

// devSymlinks makes the /dev links the runtime-spec requires, and
// /dev/ptmx pointing into the container's own devpts.
func (r *rootfsSetup) devSymlinks() error {
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
		{"pts/ptmx", "/dev/ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	for _, l := range links {
		if err := r.symlinkInRoot(l[0], l[1]); err != nil {
			return err
		}
	}
	return nil
}
