package spec

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

// errCase is a request Generate must refuse: class and the message docker
// shows (a substring).
type errCase struct {
	name   string
	mutate func(*Input)
	class  error
	msg    string
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := generateErr(t, tc.mutate)
			class := tc.class
			if class == nil {
				class = errdefs.ErrInvalidParameter
			}
			if !errors.Is(err, class) {
				t.Errorf("error %q is not of class %v", err, class)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want it to say %q", err, tc.msg)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		imgEntry, imgCmd []string
		entrypoint, cmd  []string
		merged           bool
		init             bool
		want             []string
	}{
		{name: "image cmd", imgCmd: []string{"sh"}, want: []string{"sh"}},
		{name: "image entrypoint and cmd", imgEntry: []string{"/e"}, imgCmd: []string{"a"}, want: []string{"/e", "a"}},
		{name: "user cmd replaces image cmd", imgEntry: []string{"/e"}, imgCmd: []string{"a"}, cmd: []string{"b", "c"}, want: []string{"/e", "b", "c"}},
		{name: "user entrypoint drops image cmd", imgEntry: []string{"/e"}, imgCmd: []string{"a"}, entrypoint: []string{"/x"}, want: []string{"/x"}},
		{name: "user entrypoint and cmd", imgEntry: []string{"/e"}, imgCmd: []string{"a"}, entrypoint: []string{"/x", "-v"}, cmd: []string{"y"}, want: []string{"/x", "-v", "y"}},
		{name: "entrypoint reset with cmd", imgEntry: []string{"/e"}, imgCmd: []string{"a"}, entrypoint: []string{""}, cmd: []string{"b"}, want: []string{"b"}},
		{name: "empty entrypoint", imgEntry: []string{"/e"}, imgCmd: []string{"a"}, entrypoint: []string{}, want: []string{"a"}},
		{name: "merged config is not merged again", imgEntry: []string{"/e"}, imgCmd: []string{"a"}, cmd: []string{"b"}, merged: true, want: []string{"b"}},
		{name: "init", imgCmd: []string{"sh"}, init: true, want: []string{InitPathInContainer, "--", "sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := generate(t, func(in *Input) {
				in.Image.Entrypoint, in.Image.Cmd = tc.imgEntry, tc.imgCmd
				in.Config.Entrypoint, in.Config.Cmd = tc.entrypoint, tc.cmd
				in.Merged = tc.merged
				if tc.init {
					in.Host.Init = ptr(true)
				}
			})
			if !reflect.DeepEqual(s.Process.Args, tc.want) {
				t.Errorf("args %q, want %q", s.Process.Args, tc.want)
			}
		})
	}
	runErrCases(t, []errCase{
		{name: "nothing to run", mutate: func(in *Input) { in.Image.Cmd = nil }, msg: "no command specified"},
		{name: "reset entrypoint, no cmd", mutate: func(in *Input) {
			in.Image.Cmd, in.Image.Entrypoint, in.Config.Entrypoint = nil, []string{"/e"}, []string{""}
		}, msg: "no command specified"},
		// docker: --entrypoint "" does not bring the image's CMD back.
		{name: "entrypoint reset, image cmd", mutate: func(in *Input) {
			in.Image.Cmd, in.Image.Entrypoint, in.Config.Entrypoint = []string{"a"}, []string{"/e"}, []string{""}
		}, msg: "no command specified"},
		{name: "merged without command", mutate: func(in *Input) { in.Merged = true }, msg: "no command specified"},
	})
}

func TestInit(t *testing.T) {
	t.Parallel()
	s := generate(t, func(in *Input) { in.Host.Init = ptr(true) })
	m := mountAt(s, InitPathInContainer)
	if m == nil || m.Source != "/usr/local/bin/berth-init" || m.Type != "bind" || !reflect.DeepEqual(m.Options, []string{"bind", "ro"}) {
		t.Errorf("init mount %+v", m)
	}
	// The init starts with one P, so the Go runtime starts fewer threads.
	if !slices.Contains(s.Process.Env, "GOMAXPROCS=1") {
		t.Errorf("init env %q: no GOMAXPROCS=1", s.Process.Env)
	}
	// In the host's or another container's pid namespace there is an init
	// already, as docker reasons.
	for _, mode := range []container.PidMode{"host", "container:other"} {
		s := generate(t, func(in *Input) { in.Host.Init = ptr(true); in.Host.PidMode = mode })
		if mountAt(s, InitPathInContainer) != nil || s.Process.Args[0] != "sh" {
			t.Errorf("pid %s: init added: %q", mode, s.Process.Args)
		}
	}
	in := baseInput(t)
	in.Host.Init, in.InitPath = ptr(true), ""
	if _, err := Generate(t.Context(), in); err == nil {
		t.Error("--init without an init binary succeeded")
	}
}

func TestEnvAndWorkingDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		imgEnv   []string
		env      []string
		tty      bool
		hostname string
		want     []string
	}{
		{name: "image PATH wins over default", imgEnv: []string{"PATH=/img", "A=img"},
			want: []string{"PATH=/img", "HOSTNAME=" + testID[:12], "A=img"}},
		{name: "user wins over image", imgEnv: []string{"A=img", "B=img"}, env: []string{"A=user", "C=user"},
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + testID[:12], "A=user", "C=user", "B=img"}},
		{name: "tty sets TERM", tty: true,
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + testID[:12], "TERM=xterm"}},
		{name: "TERM overridden", tty: true, env: []string{"TERM=dumb"},
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + testID[:12], "TERM=dumb"}},
		{name: "unset a default", env: []string{"HOSTNAME"},
			want: []string{"PATH=" + DefaultPathEnv}},
		{name: "hostname", hostname: "web",
			want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := generate(t, func(in *Input) {
				in.Image.Env = tc.imgEnv
				in.Config.Env, in.Config.Tty, in.Config.Hostname = tc.env, tc.tty, tc.hostname
			})
			if !reflect.DeepEqual(s.Process.Env, tc.want) {
				t.Errorf("env %q, want %q", s.Process.Env, tc.want)
			}
			if s.Process.Terminal != tc.tty {
				t.Errorf("terminal %v", s.Process.Terminal)
			}
		})
	}
	s := generate(t, func(in *Input) { in.Image.WorkingDir = "/img" })
	if s.Process.Cwd != "/img" {
		t.Errorf("cwd %q", s.Process.Cwd)
	}
	s = generate(t, func(in *Input) { in.Image.WorkingDir = "/img"; in.Config.WorkingDir = "/user/../work/" })
	if s.Process.Cwd != "/work" {
		t.Errorf("cwd %q", s.Process.Cwd)
	}
	s = generate(t, func(in *Input) {
		in.Config.Tty = true
		in.Host.ConsoleSize = [2]uint{40, 120}
		in.Config.Domainname = "example.org"
	})
	if s.Process.ConsoleSize == nil || *s.Process.ConsoleSize != (specs.Box{Height: 40, Width: 120}) {
		t.Errorf("console size %+v", s.Process.ConsoleSize)
	}
	if s.Domainname != "example.org" {
		t.Errorf("domainname %q", s.Domainname)
	}
	runErrCases(t, []errCase{
		{name: "empty env name", mutate: func(in *Input) { in.Config.Env = []string{"=x"} }, msg: "invalid environment variable: =x"},
		{name: "empty env", mutate: func(in *Input) { in.Config.Env = []string{""} }, msg: "invalid environment variable"},
		{name: "relative working dir", mutate: func(in *Input) { in.Config.WorkingDir = "work" },
			msg: "the working directory 'work' is invalid, it needs to be an absolute path"},
	})
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	sys := probeHost()
	var available []string
	for _, c := range knownCapabilities {
		if sys.currentCaps[c] {
			available = append(available, c)
		}
	}
	without := func(list []string, drop ...string) []string {
		var out []string
		for _, c := range list {
			if !slices.Contains(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		add, drop  []string
		privileged bool
		want       []string
	}{
		{name: "add short lower", add: []string{"net_admin"}, want: append(DefaultCapabilities(), "CAP_NET_ADMIN")},
		{name: "add prefixed mixed case", add: []string{"Cap_Sys_Ptrace"}, want: append(DefaultCapabilities(), "CAP_SYS_PTRACE")},
		{name: "add a default again", add: []string{"CHOWN"}, want: DefaultCapabilities()},
		{name: "drop", drop: []string{"chown", "CAP_NET_RAW"}, want: without(DefaultCapabilities(), "CAP_CHOWN", "CAP_NET_RAW")},
		{name: "drop all add one", drop: []string{"ALL"}, add: []string{"chown"}, want: []string{"CAP_CHOWN"}},
		{name: "drop all", drop: []string{"all"}, want: []string{}},
		{name: "add all drop one", add: []string{"ALL"}, drop: []string{"MKNOD"}, want: without(available, "CAP_MKNOD")},
		{name: "privileged", privileged: true, want: available},
		{name: "privileged ignores drop", privileged: true, drop: []string{"chown"}, want: available},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := generate(t, func(in *Input) {
				in.Host.CapAdd, in.Host.CapDrop, in.Host.Privileged = tc.add, tc.drop, tc.privileged
			})
			c := s.Process.Capabilities
			if !reflect.DeepEqual(c.Bounding, tc.want) || !reflect.DeepEqual(c.Effective, tc.want) || !reflect.DeepEqual(c.Permitted, tc.want) {
				t.Errorf("capabilities %q, want %q", c.Bounding, tc.want)
			}
		})
	}
	cases := []errCase{
		{name: "unknown add", mutate: func(in *Input) { in.Host.CapAdd = []string{"foo"} }, msg: `invalid CapAdd: unknown capability: "CAP_FOO"`},
		{name: "unknown drop", mutate: func(in *Input) { in.Host.CapDrop = []string{"CAP_BAR"} }, msg: `invalid CapDrop: unknown capability: "CAP_BAR"`},
	}
	if !sys.currentCaps["CAP_SYS_RESOURCE"] {
		// This project's CI host lacks it.
		cases = append(cases, errCase{name: "not available", mutate: func(in *Input) { in.Host.CapAdd = []string{"SYS_RESOURCE"} },
			msg: `capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"`})
	}
	runErrCases(t, cases)
}

func TestSecurityOpts(t *testing.T) {
	t.Parallel()
	customProfile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod","fchmodat"],"action":"SCMP_ACT_ERRNO"}]}`
	for _, tc := range []struct {
		name       string
		opts       []string
		privileged bool
		capAdd     []string
		check      func(t *testing.T, s *specs.Spec)
	}{
		{name: "no-new-privileges", opts: []string{"no-new-privileges"}, check: func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges {
				t.Error("no_new_privs not set")
			}
		}},
		{name: "no-new-privileges=true", opts: []string{"no-new-privileges=true"}, check: func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges {
				t.Error("no_new_privs not set")
			}
		}},
		{name: "no-new-privileges:false", opts: []string{"no-new-privileges", "no-new-privileges:false"}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.NoNewPrivileges {
				t.Error("no_new_privs set")
			}
		}},
		{name: "seccomp unconfined", opts: []string{"seccomp=unconfined"}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Error("seccomp profile present")
			}
		}},
		{name: "seccomp builtin", opts: []string{"seccomp=builtin"}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
				t.Error("not the default profile")
			}
		}},
		{name: "seccomp custom", opts: []string{"seccomp=" + customProfile}, check: func(t *testing.T, s *specs.Spec) {
			sc := s.Linux.Seccomp
			if sc == nil || sc.DefaultAction != specs.ActAllow || len(sc.Syscalls) != 1 || sc.Syscalls[0].Names[1] != "fchmodat" {
				t.Errorf("custom profile: %+v", sc)
			}
		}},
		{name: "privileged has none", privileged: true, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Error("seccomp profile present")
			}
		}},
		{name: "privileged with custom", privileged: true, opts: []string{"seccomp=" + customProfile}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow {
				t.Error("custom profile not applied")
			}
		}},
		{name: "CAP_SYS_ADMIN opens mount", capAdd: []string{"SYS_ADMIN"}, check: func(t *testing.T, s *specs.Spec) {
			a := allowedSyscalls(s)
			for _, sc := range []string{"mount", "umount2", "unshare", "setns", "sethostname"} {
				if !a[sc] {
					t.Errorf("%s not allowed with CAP_SYS_ADMIN", sc)
				}
			}
		}},
		{name: "CAP_SYS_PTRACE opens process_vm_readv", capAdd: []string{"SYS_PTRACE"}, check: func(t *testing.T, s *specs.Spec) {
			if !allowedSyscalls(s)["process_vm_readv"] {
				t.Error("process_vm_readv not allowed with CAP_SYS_PTRACE")
			}
		}},
		{name: "apparmor and labels accepted", opts: []string{"apparmor=unconfined", "label=disable", "label:type:svirt_t", "apparmor=my-profile"}, check: func(t *testing.T, s *specs.Spec) {
			if !probeHost().apparmor && s.Process.ApparmorProfile != "" {
				t.Errorf("apparmor profile %q on a host without AppArmor", s.Process.ApparmorProfile)
			}
		}},
		{name: "writable-cgroups", opts: []string{"writable-cgroups=true"}, check: func(t *testing.T, s *specs.Spec) {
			if slices.Contains(mountAt(s, "/sys/fs/cgroup").Options, "ro") {
				t.Error("cgroup mount read-only")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, generate(t, func(in *Input) {
				in.Host.SecurityOpt, in.Host.Privileged, in.Host.CapAdd = tc.opts, tc.privileged, tc.capAdd
			}))
		})
	}
	runErrCases(t, []errCase{
		{name: "bare word", mutate: func(in *Input) { in.Host.SecurityOpt = []string{"foo"} }, msg: `invalid --security-opt 1: "foo"`},
		{name: "unknown key", mutate: func(in *Input) { in.Host.SecurityOpt = []string{"foo=bar"} }, msg: `invalid --security-opt 2: "foo=bar"`},
		{name: "bad nnp", mutate: func(in *Input) { in.Host.SecurityOpt = []string{"no-new-privileges=maybe"} }, msg: `invalid --security-opt 2`},
		{name: "bad profile", mutate: func(in *Input) { in.Host.SecurityOpt = []string{"seccomp={not json"} }, msg: "Decoding seccomp profile failed"},
		{name: "path instead of content", mutate: func(in *Input) { in.Host.SecurityOpt = []string{"seccomp=/etc/profile.json"} }, msg: "Decoding seccomp profile failed"},
	})
}

func TestPrivileged(t *testing.T) {
	t.Parallel()
	s := generate(t, func(in *Input) { in.Host.Privileged = true })
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("masked %q readonly %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if slices.Contains(mountAt(s, "/sys").Options, "ro") || slices.Contains(mountAt(s, "/sys/fs/cgroup").Options, "ro") {
		t.Errorf("/sys or cgroup read-only: %+v %+v", mountAt(s, "/sys"), mountAt(s, "/sys/fs/cgroup"))
	}
	if !reflect.DeepEqual(s.Linux.Resources.Devices, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}) {
		t.Errorf("device rules %+v", s.Linux.Resources.Devices)
	}
	found := false
	for _, d := range s.Linux.Devices {
		if d.Path == "/dev/null" && d.Type == "c" && d.Major == 1 && d.Minor == 3 {
			found = true
		}
		if strings.HasPrefix(d.Path, "/dev/pts/") || d.Path == "/dev/console" {
			t.Errorf("host device %s given to a privileged container", d.Path)
		}
	}
	if !found {
		t.Errorf("host devices missing /dev/null: %d devices", len(s.Linux.Devices))
	}
	// The request's own paths still win (systempaths=unconfined sends []).
	s = generate(t, func(in *Input) { in.Host.MaskedPaths, in.Host.ReadonlyPaths = []string{}, []string{"/proc/x"} })
	if s.Linux.MaskedPaths == nil || len(s.Linux.MaskedPaths) != 0 || !reflect.DeepEqual(s.Linux.ReadonlyPaths, []string{"/proc/x"}) {
		t.Errorf("masked %q readonly %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
}

func TestMounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		host  container.HostConfig
		shm   string
		check func(t *testing.T, s *specs.Spec)
	}{
		{name: "shm size", host: container.HostConfig{ShmSize: 1 << 30}, check: func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/dev/shm"); m == nil || !slices.Contains(m.Options, "size=1073741824") {
				t.Errorf("/dev/shm %+v", m)
			}
		}},
		{name: "shm path", shm: "/run/berth/shm/x", check: func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/dev/shm"); m == nil || m.Type != "bind" || m.Source != "/run/berth/shm/x" {
				t.Errorf("/dev/shm %+v", m)
			}
		}},
		{name: "ipc none", host: container.HostConfig{IpcMode: "none"}, shm: "/ignored", check: func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/dev/shm"); m != nil {
				t.Errorf("/dev/shm %+v", m)
			}
		}},
		{name: "ipc host", host: container.HostConfig{IpcMode: "host"}, check: func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/dev/shm"); m == nil || m.Source != "/dev/shm" || m.Type != "bind" {
				t.Errorf("/dev/shm %+v", m)
			}
		}},
		{name: "tmpfs", host: container.HostConfig{Tmpfs: map[string]string{"/run": "", "/tmp/": "size=1m,exec,mode=1777", "/run/a": "ro,size=2k,size=4k"}}, check: func(t *testing.T, s *specs.Spec) {
			want := map[string][]string{
				"/run":   {"noexec", "nosuid", "nodev", "rprivate"},
				"/tmp":   {"nosuid", "nodev", "rprivate", "size=1m", "exec", "mode=1777"},
				"/run/a": {"noexec", "nosuid", "nodev", "rprivate", "ro", "size=4k"},
			}
			for dest, opts := range want {
				m := mountAt(s, dest)
				if m == nil || m.Type != "tmpfs" || !reflect.DeepEqual(m.Options, opts) {
					t.Errorf("%s: %+v, want options %q", dest, m, opts)
				}
			}
			// Parents before children.
			if slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/run" }) >
				slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/run/a" }) {
				t.Error("/run/a mounted before /run")
			}
		}},
		{name: "tmpfs replaces a default", host: container.HostConfig{Tmpfs: map[string]string{"/dev/shm": "size=8k"}}, check: func(t *testing.T, s *specs.Spec) {
			n := 0
			for _, m := range s.Mounts {
				if m.Destination == "/dev/shm" {
					n++
					if m.Source != "tmpfs" || !slices.Contains(m.Options, "size=8k") {
						t.Errorf("/dev/shm %+v", m)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d /dev/shm mounts", n)
			}
		}},
		{name: "tmpfs over /etc/hosts", host: container.HostConfig{Tmpfs: map[string]string{"/etc/hosts": ""}}, check: func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/etc/hosts"); m.Type != "tmpfs" {
				t.Errorf("/etc/hosts %+v", m)
			}
		}},
		{name: "read-only rootfs", host: container.HostConfig{ReadonlyRootfs: true, Tmpfs: map[string]string{"/run": ""}}, check: func(t *testing.T, s *specs.Spec) {
			if !s.Root.Readonly {
				t.Error("root not read-only")
			}
			for _, dest := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/run"} {
				if slices.Contains(mountAt(s, dest).Options, "ro") {
					t.Errorf("%s read-only", dest)
				}
			}
			for _, dest := range []string{"/sys", "/sys/fs/cgroup", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"} {
				if !slices.Contains(mountAt(s, dest).Options, "ro") {
					t.Errorf("%s writable", dest)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, generate(t, func(in *Input) { *in.Host = tc.host; in.ShmPath = tc.shm }))
		})
	}
	s := generate(t, func(in *Input) { in.HostsPath, in.ResolvConfPath, in.HostnamePath = "", "", "" })
	for _, dest := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname"} {
		if mountAt(s, dest) != nil {
			t.Errorf("%s mounted without a file", dest)
		}
	}
	runErrCases(t, []errCase{
		{name: "tmpfs relative", mutate: func(in *Input) { in.Host.Tmpfs = map[string]string{"run": ""} }, msg: "mount path must be absolute"},
		{name: "tmpfs root", mutate: func(in *Input) { in.Host.Tmpfs = map[string]string{"/": ""} }, msg: "destination can't be '/'"},
		{name: "tmpfs bad option", mutate: func(in *Input) { in.Host.Tmpfs = map[string]string{"/run": "bogus=1"} }, msg: `invalid tmpfs option "bogus=1"`},
		{name: "negative shm", mutate: func(in *Input) { in.Host.ShmSize = -1 }, msg: "SHM size can not be less than 0"},
	})
}

func TestResources(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		res   container.Resources
		check func(t *testing.T, r *specs.LinuxResources)
	}{
		{name: "memory with default swap", res: container.Resources{Memory: 64 << 20}, check: func(t *testing.T, r *specs.LinuxResources) {
			if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 {
				t.Errorf("memory %+v", r.Memory)
			}
		}},
		{name: "unlimited swap", res: container.Resources{Memory: 64 << 20, MemorySwap: -1}, check: func(t *testing.T, r *specs.LinuxResources) {
			if *r.Memory.Limit != 64<<20 || r.Memory.Swap != nil {
				t.Errorf("memory %+v", r.Memory)
			}
		}},
		{name: "swap", res: container.Resources{Memory: 64 << 20, MemorySwap: 100 << 20, MemoryReservation: 32 << 20, MemorySwappiness: ptr[int64](10), OomKillDisable: ptr(true)}, check: func(t *testing.T, r *specs.LinuxResources) {
			m := r.Memory
			if *m.Swap != 100<<20 || *m.Reservation != 32<<20 || *m.Swappiness != 10 || !*m.DisableOOMKiller {
				t.Errorf("memory %+v", m)
			}
		}},
		{name: "swappiness -1 is unset", res: container.Resources{MemorySwappiness: ptr[int64](-1)}, check: func(t *testing.T, r *specs.LinuxResources) {
			if r.Memory != nil {
				t.Errorf("memory %+v", r.Memory)
			}
		}},
		{name: "cpus", res: container.Resources{NanoCPUs: 1_500_000_000}, check: func(t *testing.T, r *specs.LinuxResources) {
			if *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 {
				t.Errorf("cpu %+v", r.CPU)
			}
		}},
		{name: "quota period shares cpuset", res: container.Resources{CPUQuota: 50000, CPUPeriod: 200000, CPUShares: 512, CpusetCpus: "0", CpusetMems: "0"}, check: func(t *testing.T, r *specs.LinuxResources) {
			c := r.CPU
			if *c.Quota != 50000 || *c.Period != 200000 || *c.Shares != 512 || c.Cpus != "0" || c.Mems != "0" {
				t.Errorf("cpu %+v", c)
			}
		}},
		{name: "pids", res: container.Resources{PidsLimit: ptr[int64](100)}, check: func(t *testing.T, r *specs.LinuxResources) {
			if *r.Pids.Limit != 100 {
				t.Errorf("pids %+v", r.Pids)
			}
		}},
		{name: "pids 0 unlimited", res: container.Resources{PidsLimit: ptr[int64](0)}, check: func(t *testing.T, r *specs.LinuxResources) {
			if *r.Pids.Limit != -1 {
				t.Errorf("pids %+v", r.Pids)
			}
		}},
		{name: "pids -1 unlimited", res: container.Resources{PidsLimit: ptr[int64](-1)}, check: func(t *testing.T, r *specs.LinuxResources) {
			if *r.Pids.Limit != -1 {
				t.Errorf("pids %+v", r.Pids)
			}
		}},
		{name: "blkio", res: container.Resources{
			BlkioWeight:          300,
			BlkioWeightDevice:    []*blkiodev.WeightDevice{{Path: "/dev/null", Weight: 200}},
			BlkioDeviceReadBps:   []*blkiodev.ThrottleDevice{{Path: "/dev/zero", Rate: 1 << 20}},
			BlkioDeviceWriteIOps: []*blkiodev.ThrottleDevice{{Path: "/dev/null", Rate: 10}},
		}, check: func(t *testing.T, r *specs.LinuxResources) {
			b := r.BlockIO
			if *b.Weight != 300 || len(b.WeightDevice) != 1 || *b.WeightDevice[0].Weight != 200 || b.WeightDevice[0].Major != 1 || b.WeightDevice[0].Minor != 3 {
				t.Errorf("blkio %+v", b)
			}
			if len(b.ThrottleReadBpsDevice) != 1 || b.ThrottleReadBpsDevice[0].Rate != 1<<20 || b.ThrottleReadBpsDevice[0].Minor != 5 {
				t.Errorf("read bps %+v", b.ThrottleReadBpsDevice)
			}
			if len(b.ThrottleWriteIOPSDevice) != 1 || b.ThrottleWriteIOPSDevice[0].Rate != 10 {
				t.Errorf("write iops %+v", b.ThrottleWriteIOPSDevice)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := generate(t, func(in *Input) { in.Host.Resources = tc.res })
			tc.check(t, s.Linux.Resources)
		})
	}
	s := generate(t, func(in *Input) { in.Host.OomScoreAdj = -500 })
	if *s.Process.OOMScoreAdj != -500 {
		t.Errorf("oom score adj %d", *s.Process.OOMScoreAdj)
	}
	runErrCases(t, []errCase{
		{name: "tiny memory", mutate: func(in *Input) { in.Host.Memory = 4 << 20 }, msg: "Minimum memory limit allowed is 6MB"},
		{name: "swap below memory", mutate: func(in *Input) { in.Host.Memory, in.Host.MemorySwap = 64<<20, 32<<20 }, msg: "Minimum memoryswap limit should be larger than memory limit"},
		{name: "swap without memory", mutate: func(in *Input) { in.Host.MemorySwap = 64 << 20 }, msg: "You should always set the Memory limit when using Memoryswap limit"},
		{name: "swappiness", mutate: func(in *Input) { in.Host.MemorySwappiness = ptr[int64](101) }, msg: "valid memory swappiness range is 0-100"},
		{name: "reservation", mutate: func(in *Input) { in.Host.MemoryReservation = 1 << 20 }, msg: "Minimum memory reservation allowed is 6MB"},
		{name: "reservation above limit", mutate: func(in *Input) { in.Host.Memory, in.Host.MemoryReservation = 64<<20, 128<<20 }, msg: "Minimum memory limit can not be less than memory reservation limit"},
		{name: "nano and period", mutate: func(in *Input) { in.Host.NanoCPUs, in.Host.CPUPeriod = 1e9, 100000 }, msg: "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{name: "nano and quota", mutate: func(in *Input) { in.Host.NanoCPUs, in.Host.CPUQuota = 1e9, 100000 }, msg: "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{name: "too many cpus", mutate: func(in *Input) { in.Host.NanoCPUs = 1000e9 }, msg: "range of CPUs is from 0.01 to"},
		{name: "negative shares", mutate: func(in *Input) { in.Host.CPUShares = -1 }, msg: "invalid CPU shares (-1): value must be a positive integer"},
		{name: "period", mutate: func(in *Input) { in.Host.CPUPeriod = 10 }, msg: "CPU cfs period can not be less than 1ms"},
		{name: "quota", mutate: func(in *Input) { in.Host.CPUQuota = 10 }, msg: "CPU cfs quota can not be less than 1ms"},
		{name: "cpuset unavailable", mutate: func(in *Input) { in.Host.CpusetCpus = "4000" }, msg: "Requested CPUs are not available - requested 4000"},
		{name: "cpuset syntax", mutate: func(in *Input) { in.Host.CpusetCpus = "a-b" }, msg: "Invalid value a-b for cpuset cpus"},
		{name: "mems unavailable", mutate: func(in *Input) { in.Host.CpusetMems = "0-63" }, msg: "Requested memory nodes are not available"},
		{name: "blkio weight", mutate: func(in *Input) { in.Host.BlkioWeight = 5 }, msg: "Range of blkio weight is from 10 to 1000"},
		{name: "blkio device missing", mutate: func(in *Input) {
			in.Host.BlkioDeviceReadBps = []*blkiodev.ThrottleDevice{{Path: "/dev/no-such-disk", Rate: 1}}
		}, msg: "/dev/no-such-disk"},
		{name: "oom score adj", mutate: func(in *Input) { in.Host.OomScoreAdj = 1001 }, msg: "range for oom score adj is [-1000, 1000]"},
	})
}

func TestDevices(t *testing.T) {
	t.Parallel()
	s := generate(t, func(in *Input) {
		in.Host.Devices = []container.DeviceMapping{
			{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rw"},
			{PathOnHost: "/dev/zero"},
		}
		in.Host.DeviceCgroupRules = []string{"c 42:* rmw", "b *:7 r"}
	})
	d := s.Linux.Devices
	if len(d) != 2 || d[0].Path != "/dev/mynull" || d[0].Type != "c" || d[0].Major != 1 || d[0].Minor != 3 || d[1].Path != "/dev/zero" || d[1].Minor != 5 {
		t.Errorf("devices %+v", d)
	}
	if d[0].FileMode == nil || d[0].UID == nil || d[0].GID == nil {
		t.Errorf("device mode/owner missing: %+v", d[0])
	}
	rules := s.Linux.Resources.Devices
	n := len(defaultDeviceRules())
	if len(rules) != n+4 {
		t.Fatalf("rules %+v", rules)
	}
	want := []specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](42), Minor: ptr[int64](-1), Access: "rmw"},
		{Allow: true, Type: "b", Major: ptr[int64](-1), Minor: ptr[int64](7), Access: "r"},
	}
	if !reflect.DeepEqual(rules[n:], want) {
		t.Errorf("rules %+v, want %+v", rules[n:], want)
	}
	runErrCases(t, []errCase{
		{name: "missing device", mutate: func(in *Input) {
			in.Host.Devices = []container.DeviceMapping{{PathOnHost: "/dev/no-such-device", PathInContainer: "/dev/x", CgroupPermissions: "rwm"}}
		}, msg: `error gathering device information while adding custom device "/dev/no-such-device"`},
		{name: "not a device", mutate: func(in *Input) {
			in.Host.Devices = []container.DeviceMapping{{PathOnHost: "/etc/hostname", PathInContainer: "/dev/x", CgroupPermissions: "rwm"}}
		}, msg: "error gathering device information"},
		{name: "bad permissions", mutate: func(in *Input) {
			in.Host.Devices = []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/x", CgroupPermissions: "rwx"}}
		}, msg: "invalid device mode: rwx"},
		{name: "relative container path", mutate: func(in *Input) {
			in.Host.Devices = []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "x", CgroupPermissions: "rwm"}}
		}, msg: "x is not an absolute path"},
		{name: "bad rule", mutate: func(in *Input) { in.Host.DeviceCgroupRules = []string{"c 1:3"} }, msg: "invalid device cgroup rule format: 'c 1:3'"},
		{name: "bad rule type", mutate: func(in *Input) { in.Host.DeviceCgroupRules = []string{"x 1:3 rwm"} }, msg: "invalid device cgroup rule format"},
	})
}

func TestNamespaces(t *testing.T) {
	t.Parallel()
	has := func(s *specs.Spec, typ specs.LinuxNamespaceType) (bool, string) {
		for _, n := range s.Linux.Namespaces {
			if n.Type == typ {
				return true, n.Path
			}
		}
		return false, ""
	}
	for _, tc := range []struct {
		name  string
		host  container.HostConfig
		check func(t *testing.T, s *specs.Spec)
	}{
		{name: "pid host", host: container.HostConfig{PidMode: "host"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, _ := has(s, specs.PIDNamespace); ok {
				t.Error("pid namespace")
			}
		}},
		{name: "pid container", host: container.HostConfig{PidMode: "container:web"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, p := has(s, specs.PIDNamespace); !ok || p != "/proc/4242/ns/pid#web" {
				t.Errorf("pid namespace %v %q", ok, p)
			}
		}},
		{name: "ipc host", host: container.HostConfig{IpcMode: "host"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, _ := has(s, specs.IPCNamespace); ok {
				t.Error("ipc namespace")
			}
		}},
		{name: "ipc shareable", host: container.HostConfig{IpcMode: "shareable"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, p := has(s, specs.IPCNamespace); !ok || p != "" {
				t.Error("no private ipc namespace")
			}
		}},
		{name: "ipc container", host: container.HostConfig{IpcMode: "container:db"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, p := has(s, specs.IPCNamespace); !ok || p != "/proc/4242/ns/ipc#db" {
				t.Errorf("ipc namespace %v %q", ok, p)
			}
		}},
		{name: "uts host", host: container.HostConfig{UTSMode: "host"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, _ := has(s, specs.UTSNamespace); ok || s.Hostname != "" {
				t.Errorf("uts namespace %v hostname %q", ok, s.Hostname)
			}
		}},
		{name: "net host", host: container.HostConfig{NetworkMode: "host"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, _ := has(s, specs.NetworkNamespace); ok {
				t.Error("net namespace")
			}
			if s.Hostname != probeHost().hostname || !slices.Contains(s.Process.Env, "HOSTNAME="+probeHost().hostname) {
				t.Errorf("hostname %q env %q", s.Hostname, s.Process.Env)
			}
			if len(s.Linux.Sysctl) != 0 {
				t.Errorf("sysctls in the host's netns: %v", s.Linux.Sysctl)
			}
		}},
		{name: "net none", host: container.HostConfig{NetworkMode: "none"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, p := has(s, specs.NetworkNamespace); !ok || p != "" {
				t.Error("no private net namespace")
			}
		}},
		{name: "net bridge without a sandbox", host: container.HostConfig{NetworkMode: "bridge"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, p := has(s, specs.NetworkNamespace); !ok || p != "" {
				t.Error("no private net namespace")
			}
		}},
		{name: "net container", host: container.HostConfig{NetworkMode: "container:web"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, p := has(s, specs.NetworkNamespace); !ok || p != "/proc/4242/ns/network#web" {
				t.Errorf("net namespace %v %q", ok, p)
			}
		}},
		{name: "cgroupns private", host: container.HostConfig{CgroupnsMode: "private"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, _ := has(s, specs.CgroupNamespace); !ok {
				t.Error("no cgroup namespace")
			}
		}},
		{name: "cgroupns host", host: container.HostConfig{CgroupnsMode: "host"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, _ := has(s, specs.CgroupNamespace); ok {
				t.Error("cgroup namespace")
			}
		}},
		{name: "userns host", host: container.HostConfig{UsernsMode: "host"}, check: func(t *testing.T, s *specs.Spec) {
			if ok, _ := has(s, specs.UserNamespace); ok {
				t.Error("user namespace")
			}
		}},
		{name: "cgroup parent", host: container.HostConfig{Resources: container.Resources{CgroupParent: "/mine"}}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.CgroupsPath != "/mine/"+testID {
				t.Errorf("cgroupsPath %q", s.Linux.CgroupsPath)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, generate(t, func(in *Input) { *in.Host = tc.host }))
		})
	}
	// The daemon's sandbox is joined in every mode that has its own
	// network namespace: bridge, user networks, none.
	for _, mode := range []container.NetworkMode{"bridge", "default", "mynet", "none"} {
		s := generate(t, func(in *Input) { in.Host.NetworkMode = mode; in.NetworkNamespacePath = "/run/berth/netns/x" })
		if ok, p := has(s, specs.NetworkNamespace); !ok || p != "/run/berth/netns/x" {
			t.Errorf("%s: net namespace %v %q", mode, ok, p)
		}
		if s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" && probeHost().unprivilegedPortStart {
			t.Errorf("%s: docker's network sysctls: %v", mode, s.Linux.Sysctl)
		}
	}
	for _, mode := range []container.NetworkMode{"host", "container:web"} {
		s := generate(t, func(in *Input) { in.Host.NetworkMode = mode; in.NetworkNamespacePath = "/run/berth/netns/x" })
		if _, p := has(s, specs.NetworkNamespace); p == "/run/berth/netns/x" {
			t.Errorf("%s must not join the sandbox", mode)
		}
	}
	s := generate(t, func(in *Input) { in.CgroupParent = "/berth-test" })
	if s.Linux.CgroupsPath != "/berth-test/"+testID {
		t.Errorf("cgroupsPath %q", s.Linux.CgroupsPath)
	}
	runErrCases(t, []errCase{
		{name: "ipc bogus", mutate: func(in *Input) { in.Host.IpcMode = "bogus" }, msg: "invalid IPC mode: bogus"},
		{name: "pid bogus", mutate: func(in *Input) { in.Host.PidMode = "bogus" }, msg: "invalid PID mode: bogus"},
		{name: "pid empty container", mutate: func(in *Input) { in.Host.PidMode = "container:" }, msg: "invalid PID mode"},
		{name: "uts bogus", mutate: func(in *Input) { in.Host.UTSMode = "bogus" }, msg: "invalid UTS mode: bogus"},
		{name: "userns", mutate: func(in *Input) { in.Host.UsernsMode = "private" }, msg: "invalid USER mode"},
		{name: "cgroupns bogus", mutate: func(in *Input) { in.Host.CgroupnsMode = "bogus" }, msg: "invalid cgroup namespace mode: bogus"},
		{name: "net container empty", mutate: func(in *Input) { in.Host.NetworkMode = "container:" }, msg: "invalid container format container:<name|id>"},
		{name: "container gone", mutate: func(in *Input) { in.Host.PidMode = "container:missing" }, class: errdefs.ErrNotFound, msg: "No such container: missing"},
		{name: "no resolver", mutate: func(in *Input) { in.Host.IpcMode = "container:db"; in.NamespacePath = nil }, msg: "namespace"},
	})
}

// TestCheckCreate: the hostname conflicts are create-time checks; a stored
// config with the daemon's hostname still generates.
func TestCheckCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host container.HostConfig
		msg  string
	}{
		{container.HostConfig{UTSMode: "host"}, "conflicting options: hostname and the UTS mode"},
		{container.HostConfig{NetworkMode: "container:web"}, "conflicting options: hostname and the network mode"},
	} {
		err := CheckCreate(&container.Config{Hostname: "x"}, &tc.host)
		if !errdefs.IsInvalidParameter(err) || err.Error() != tc.msg {
			t.Errorf("%+v: %v, want %q", tc.host, err, tc.msg)
		}
		if err := CheckCreate(&container.Config{}, &tc.host); err != nil {
			t.Errorf("%+v without a hostname: %v", tc.host, err)
		}
		s := generate(t, func(in *Input) { *in.Host = tc.host; in.Config.Hostname = testID[:12] })
		if tc.host.UTSMode.IsHost() && s.Hostname != "" {
			t.Errorf("hostname %q set in the host's UTS namespace", s.Hostname)
		}
		if tc.host.NetworkMode.IsContainer() && s.Hostname != testID[:12] {
			t.Errorf("hostname %q", s.Hostname)
		}
	}
	if err := CheckCreate(&container.Config{Hostname: "x"}, &container.HostConfig{NetworkMode: "host"}); err != nil {
		t.Errorf("hostname with --network host: %v", err)
	}
}

func TestSysctls(t *testing.T) {
	t.Parallel()
	s := generate(t, func(in *Input) {
		in.Host.Sysctls = map[string]string{
			"net.ipv4.ip_forward":                 "1",
			"net.ipv4.ip_unprivileged_port_start": "1024",
			"kernel.shmmax":                       "1000000",
			"fs.mqueue.msg_max":                   "20",
			"kernel.domainname":                   "example.org",
		}
	})
	l := s.Linux.Sysctl
	if l["net.ipv4.ip_forward"] != "1" || l["net.ipv4.ip_unprivileged_port_start"] != "1024" || l["kernel.shmmax"] != "1000000" || l["fs.mqueue.msg_max"] != "20" {
		t.Errorf("sysctls %v", l)
	}
	runErrCases(t, []errCase{
		{name: "net in host netns", mutate: func(in *Input) {
			in.Host.NetworkMode = "host"
			in.Host.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
		}, msg: `sysctl "net.ipv4.ip_forward" is not allowed in the hosts network namespace`},
		{name: "ipc in host ipc", mutate: func(in *Input) {
			in.Host.IpcMode = "host"
			in.Host.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, msg: `sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace`},
		{name: "not namespaced", mutate: func(in *Input) { in.Host.Sysctls = map[string]string{"kernel.panic": "1"} },
			msg: `sysctl "kernel.panic" is not in a separate kernel namespace`},
		{name: "vm", mutate: func(in *Input) { in.Host.Sysctls = map[string]string{"vm.swappiness": "1"} },
			msg: `sysctl "vm.swappiness" is not in a separate kernel namespace`},
	})
}

func TestUlimits(t *testing.T) {
	t.Parallel()
	s := generate(t, func(in *Input) {
		in.Host.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: -1, Hard: -1}}
		in.DefaultUlimits = []container.Ulimit{{Name: "nofile", Soft: 1, Hard: 1}, {Name: "nproc", Soft: 100, Hard: 200}}
	})
	want := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048},
		{Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)},
		{Type: "RLIMIT_NPROC", Soft: 100, Hard: 200},
	}
	if !reflect.DeepEqual(s.Process.Rlimits, want) {
		t.Errorf("rlimits %+v, want %+v", s.Process.Rlimits, want)
	}
	runErrCases(t, []errCase{
		{name: "unknown", mutate: func(in *Input) { in.Host.Ulimits = []*container.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}} }, msg: "invalid ulimit type: bogus"},
		{name: "soft above hard", mutate: func(in *Input) { in.Host.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 10, Hard: 5}} },
			msg: "ulimit soft limit must be less than or equal to hard limit: 10 > 5"},
		{name: "bad default", mutate: func(in *Input) { in.DefaultUlimits = []container.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}} }, msg: "invalid ulimit type"},
	})
}
