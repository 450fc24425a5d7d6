package spec

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Accounts in the unit tests' rootfs.
const (
	testPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"berth:x:1000:1000:berth:/home/berth:/bin/sh\n" +
		"# a comment, and a broken line follow\n" +
		"broken:x:notanumber:1\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	testGroup = "root:x:0:\n" +
		"berth:x:1000:\n" +
		"berthextra:x:1001:berth,other\n" +
		"audio:x:29:\n" +
		"nogroup:x:65534:\n"
)

// testRootfs makes a rootfs holding only /etc/passwd and /etc/group.
func testRootfs(t testing.TB) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// baseInput is `docker run busybox` as the API receives it: the image's
// command is sh.
func baseInput(t testing.TB) Input {
	return Input{
		ID:             testID,
		Name:           "test",
		Config:         &container.Config{Image: "busybox"},
		Host:           &container.HostConfig{},
		Image:          ocispec.ImageConfig{Cmd: []string{"sh"}},
		Rootfs:         testRootfs(t),
		HostsPath:      "/var/lib/berth/containers/x/hosts",
		ResolvConfPath: "/var/lib/berth/containers/x/resolv.conf",
		HostnamePath:   "/var/lib/berth/containers/x/hostname",
		InitPath:       "/usr/local/bin/berth-init",
		NamespacePath: func(kind specs.LinuxNamespaceType, target string) (string, error) {
			if target == "missing" {
				return "", errdefs.Errorf(errdefs.ErrNotFound, "No such container: %s", target)
			}
			return "/proc/4242/ns/" + string(kind) + "#" + target, nil
		},
	}
}

func generate(t *testing.T, mutate func(*Input)) *specs.Spec {
	t.Helper()
	in := baseInput(t)
	if mutate != nil {
		mutate(&in)
	}
	s, err := Generate(context.Background(), in)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

func generateErr(t *testing.T, mutate func(*Input)) error {
	t.Helper()
	in := baseInput(t)
	mutate(&in)
	s, err := Generate(context.Background(), in)
	if err == nil {
		t.Fatalf("Generate succeeded (%+v), want an error", s.Process)
	}
	return err
}

func mountAt(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func namespaceTypes(s *specs.Spec) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		out = append(out, n.Type)
	}
	return out
}

// allowedSyscalls lists the names the seccomp profile allows without
// argument conditions.
func allowedSyscalls(s *specs.Spec) map[string]bool {
	out := map[string]bool{}
	if s.Linux.Seccomp == nil {
		return out
	}
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
			for _, n := range sc.Names {
				out[n] = true
			}
		}
	}
	return out
}

// TestDefaultSpec is the golden test: the spec of a plain
// `docker run busybox`, field by field as dockerd makes it.
func TestDefaultSpec(t *testing.T) {
	t.Parallel()
	in := baseInput(t)
	s, err := Generate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sys := probeHost()

	if s.Version != specs.Version {
		t.Errorf("version %q", s.Version)
	}
	p := s.Process
	if !reflect.DeepEqual(p.Args, []string{"sh"}) {
		t.Errorf("args %q", p.Args)
	}
	wantEnv := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + testID[:12]}
	if !reflect.DeepEqual(p.Env, wantEnv) {
		t.Errorf("env %q, want %q", p.Env, wantEnv)
	}
	if p.Cwd != "/" || p.Terminal || p.NoNewPrivileges {
		t.Errorf("cwd %q terminal %v nnp %v", p.Cwd, p.Terminal, p.NoNewPrivileges)
	}
	if !reflect.DeepEqual(p.User, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}}) {
		t.Errorf("user %+v", p.User)
	}
	if p.OOMScoreAdj == nil || *p.OOMScoreAdj != 0 {
		t.Errorf("oomScoreAdj %v", p.OOMScoreAdj)
	}
	if len(p.Rlimits) != 0 {
		t.Errorf("rlimits %v", p.Rlimits)
	}
	c := p.Capabilities
	want := DefaultCapabilities()
	if len(want) != 14 || !reflect.DeepEqual(c.Bounding, want) || !reflect.DeepEqual(c.Permitted, want) ||
		!reflect.DeepEqual(c.Effective, want) || c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("capabilities %+v", c)
	}

	if s.Root.Path != in.Rootfs || s.Root.Readonly {
		t.Errorf("root %+v", s.Root)
	}
	if s.Hostname != testID[:12] || s.Domainname != "" {
		t.Errorf("hostname %q domainname %q", s.Hostname, s.Domainname)
	}

	wantMounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
		{Destination: "/etc/hostname", Type: "bind", Source: "/var/lib/berth/containers/x/hostname", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hosts", Type: "bind", Source: "/var/lib/berth/containers/x/hosts", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: "/var/lib/berth/containers/x/resolv.conf", Options: []string{"rbind", "rprivate"}},
	}
	if !reflect.DeepEqual(s.Mounts, wantMounts) {
		t.Errorf("mounts:\n got %+v\nwant %+v", s.Mounts, wantMounts)
	}

	l := s.Linux
	wantMasked := append(DefaultMaskedPaths(), sys.thermalThrottle...)
	if !reflect.DeepEqual(l.MaskedPaths, wantMasked) || !slices.Contains(l.MaskedPaths, "/proc/kcore") {
		t.Errorf("masked paths %q", l.MaskedPaths)
	}
	if !reflect.DeepEqual(l.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
		t.Errorf("readonly paths %q", l.ReadonlyPaths)
	}
	wantNS := []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.IPCNamespace}
	if sys.cgroup2Only {
		wantNS = append(wantNS, specs.CgroupNamespace)
	}
	if got := namespaceTypes(s); !reflect.DeepEqual(got, wantNS) {
		t.Errorf("namespaces %v, want %v", got, wantNS)
	}
	for _, n := range l.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %s joins %s", n.Type, n.Path)
		}
	}
	if l.CgroupsPath != "/berth/"+testID {
		t.Errorf("cgroupsPath %q", l.CgroupsPath)
	}
	if len(l.Devices) != 0 {
		t.Errorf("devices %+v", l.Devices)
	}
	if !reflect.DeepEqual(l.Resources.Devices, defaultDeviceRules()) || l.Resources.Devices[0].Allow {
		t.Errorf("device rules %+v", l.Resources.Devices)
	}
	r := l.Resources
	if r.Memory != nil || r.CPU != nil || r.Pids != nil {
		t.Errorf("resources %+v", r)
	}
	if sys.unprivilegedPortStart && l.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("sysctls %v", l.Sysctl)
	}
	if sys.pingGroupRange && l.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" {
		t.Errorf("sysctls %v", l.Sysctl)
	}

	sc := l.Seccomp
	if sc == nil {
		t.Fatal("no seccomp profile")
	}
	if sc.DefaultAction != specs.ActErrno || sc.DefaultErrnoRet == nil || *sc.DefaultErrnoRet != 1 {
		t.Errorf("seccomp default action %v errno %v", sc.DefaultAction, sc.DefaultErrnoRet)
	}
	names := 0
	for _, rule := range sc.Syscalls {
		names += len(rule.Names)
	}
	allowed := allowedSyscalls(s)
	if names < 300 {
		t.Errorf("seccomp names %d syscalls, want docker's 300+", names)
	}
	for _, want := range []string{"read", "write", "execve", "openat", "exit_group"} {
		if !allowed[want] {
			t.Errorf("seccomp does not allow %s", want)
		}
	}
	for _, denied := range []string{"mount", "umount2", "kexec_load", "init_module", "reboot", "unshare", "setns"} {
		if allowed[denied] {
			t.Errorf("seccomp allows %s without CAP_SYS_ADMIN", denied)
		}
	}
	if len(sc.Architectures) == 0 {
		t.Errorf("seccomp has no architectures")
	}
	if s.Process.ApparmorProfile != "" && !sys.apparmor {
		t.Errorf("apparmor profile %q on a host without AppArmor", s.Process.ApparmorProfile)
	}
}

// TestInputUntouched: Generate must not change the caller's config.
func TestInputUntouched(t *testing.T) {
	t.Parallel()
	in := baseInput(t)
	in.Config.Env = []string{"A=1", "B"}
	in.Config.Cmd = []string{"echo", "hi"}
	in.Image.Env = []string{"PATH=/img", "C=3"}
	in.Image.Entrypoint = []string{"/entry"}
	in.Host.CapAdd = []string{"net_admin"}
	cfgBefore, hostBefore := *in.Config, *in.Host
	cfgBefore.Env = slices.Clone(in.Config.Env)
	cfgBefore.Cmd = slices.Clone(in.Config.Cmd)
	if _, err := Generate(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*in.Config, cfgBefore) || !reflect.DeepEqual(*in.Host, hostBefore) {
		t.Errorf("config changed:\n%+v\n%+v", *in.Config, cfgBefore)
	}
}

func TestNilConfigAndHost(t *testing.T) {
	t.Parallel()
	s := generate(t, func(in *Input) { in.Config, in.Host = nil, nil })
	if !reflect.DeepEqual(s.Process.Args, []string{"sh"}) {
		t.Errorf("args %q", s.Process.Args)
	}
}
