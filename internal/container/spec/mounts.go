package spec

import (
	"context"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultMounts is docker's list, in docker's order; /dev/shm is sized (or
// replaced by a bind) later.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
	}
}

// withMounts lays out the mounts as dockerd's withMounts does: the
// defaults, minus those a container mount replaces (and everything under
// /dev when /dev itself is replaced, and /dev/shm with --ipc none), then
// the container's own mounts (tmpfs, the network files, a shared /dev/shm)
// sorted so parents come before children. A read-only rootfs makes the
// remaining default mounts read-only too, except the ones that must stay
// writable; privileged makes /sys (and the cgroup mount) writable.
func (g *generator) withMounts(_ context.Context, s *specs.Spec) error {
	user := g.containerMounts()
	userDest := map[string]bool{}
	for _, m := range user {
		userDest[m.Destination] = true
	}
	devReplaced := userDest["/dev"]

	// s.Mounts may already hold the init's bind: keep it after the
	// defaults, as docker does.
	var mounts []specs.Mount
	for _, m := range append(defaultMounts(), s.Mounts...) {
		if userDest[m.Destination] {
			continue
		}
		if devReplaced && strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		if m.Destination == "/dev/shm" && m.Type == "tmpfs" && m.Source == "shm" {
			if g.host.IpcMode.IsNone() {
				continue
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(g.host.ShmSize, 10))
		}
		mounts = append(mounts, m)
	}
	mounts = append(mounts, user...)

	if g.host.ReadonlyRootfs {
		for i, m := range mounts {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
				continue
			}
			if !userDest[m.Destination] && !slices.Contains(m.Options, "ro") {
				mounts[i].Options = append(mounts[i].Options, "ro")
			}
		}
	}
	writableCgroups := g.host.Privileged
	if g.security.writableCgroups != nil {
		writableCgroups = *g.security.writableCgroups
	}
	for i, m := range mounts {
		if (g.host.Privileged && m.Destination == "/sys") || (writableCgroups && m.Type == "cgroup") {
			mounts[i].Options = withoutOption(m.Options, "ro")
		}
	}
	s.Mounts = mounts
	if p := g.rootfsPropagation(); p != "" {
		s.Linux.RootfsPropagation = p
	}
	return nil
}

// containerMounts are the mounts that belong to this container rather than
// to every container, sorted by depth (parents first).
func (g *generator) containerMounts() []specs.Mount {
	var out []specs.Mount
	for dest, data := range g.host.Tmpfs {
		// Validation merged the options already; merge cannot fail here.
		opts, _ := tmpfsOptions(data)
		out = append(out, specs.Mount{Destination: path.Clean(dest), Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	out = append(out, g.binds...)
	bind := func(src, dest string, writable bool) specs.Mount {
		opts := []string{"rbind"}
		if !writable {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: append(opts, "rprivate")}
	}
	if shm := g.shmSource(); shm != "" && !g.hasMountAt("/dev/shm") {
		out = append(out, bind(shm, "/dev/shm", true))
	}
	// The network files follow the rootfs: read-only with it, as docker has
	// them.
	writable := !g.host.ReadonlyRootfs
	for _, f := range []struct{ src, dest string }{
		{g.in.ResolvConfPath, "/etc/resolv.conf"},
		{g.in.HostnamePath, "/etc/hostname"},
		{g.in.HostsPath, "/etc/hosts"},
	} {
		if f.src != "" && !g.hasMountAt(f.dest) {
			out = append(out, bind(f.src, f.dest, writable))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return depth(out[i].Destination) < depth(out[j].Destination) ||
			(depth(out[i].Destination) == depth(out[j].Destination) && out[i].Destination < out[j].Destination)
	})
	return out
}

// hasMountAt: the user mounts something of their own at dest (--tmpfs,
// -v or --mount), which replaces what the daemon would put there.
func (g *generator) hasMountAt(dest string) bool {
	for d := range g.host.Tmpfs {
		if path.Clean(d) == dest {
			return true
		}
	}
	for _, m := range g.binds {
		if m.Destination == dest {
			return true
		}
	}
	return false
}

// shmSource is what gets bound at /dev/shm instead of a private tmpfs: the
// daemon's ShmPath (a shareable or joined IPC namespace), or the host's
// /dev/shm with --ipc host. Empty means the private tmpfs.
func (g *generator) shmSource() string {
	switch {
	case g.host.IpcMode.IsNone():
		return ""
	case g.in.ShmPath != "":
		return g.in.ShmPath
	case g.host.IpcMode.IsHost():
		return "/dev/shm"
	}
	return ""
}

func depth(p string) int {
	return strings.Count(path.Clean(p), "/")
}

func withoutOption(opts []string, drop string) []string {
	var out []string
	for _, o := range opts {
		if o != drop {
			out = append(out, o)
		}
	}
	return out
}
