package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func validBundle(t *testing.T) (string, *specs.Spec) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := DefaultSpec(false)
	s.Process.Terminal = false
	return dir, s
}

func TestValidateSpecAcceptsDefault(t *testing.T) {
	dir, s := validBundle(t)
	if err := ValidateSpec(s, dir); err != nil {
		t.Fatalf("default spec rejected: %v", err)
	}
}

func TestValidateSpecVersions(t *testing.T) {
	dir, s := validBundle(t)
	for _, v := range []string{"1.0.0", "1.0.2-dev", "1.1.0", "1.2.1", "1.3.0", "1.3.7", "1.1.0-rc.1"} {
		s.Version = v
		if err := ValidateSpec(s, dir); err != nil {
			t.Errorf("ociVersion %q rejected: %v", v, err)
		}
	}
	for _, v := range []string{"", "1", "1.0", "0.9.0", "2.0.0", "1.4.0", "invalid", "1.01.0", "v1.0.0"} {
		s.Version = v
		err := ValidateSpec(s, dir)
		if err == nil || !errdefs.IsInvalidParameter(err) {
			t.Errorf("ociVersion %q: got %v, want an InvalidParameter error", v, err)
		}
	}
}

func TestValidateSpecRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path is required"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "must be an absolute path"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args must not be empty"},
		{"bad env", func(s *specs.Spec) { s.Process.Env = []string{"NOEQUALS"} }, "is not NAME=value"},
		{"unknown capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_TEST")
		}, `unknown capability "CAP_TEST"`},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_TEST", Hard: 1, Soft: 1})
		}, `unknown type "RLIMIT_TEST"`},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1, Soft: 2}}
		}, "soft limit 2 is above hard limit 1"},
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown namespace type "bogus"`},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "pid namespace given twice"},
		{"namespace path missing", func(s *specs.Spec) {
			s.Linux.Namespaces[1] = specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/nonexistent"}
		}, "does not exist"},
		{"namespace path of the wrong type", func(s *specs.Spec) {
			s.Linux.Namespaces[1] = specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/uts"}
		}, "is not a network namespace"},
		{"userns without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "needs linux.uidMappings"},
		{"mappings without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}, "need a new user namespace"},
		{"hostname without uts", func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.UTSNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
		}, "needs a UTS namespace"},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "10"} }, "not namespaced"},
		{"net sysctl without netns", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}}
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "needs a network namespace"},
		{"systemd cgroups path", func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:berth:abc" }, "systemd-style"},
		{"cgroups path escape", func(s *specs.Spec) { s.Linux.CgroupsPath = "/a/../../b" }, "must not contain .."},
		{"relative hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "bin/true"}}}
		}, "is not absolute"},
		{"bad device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}
		}, `type "z"`},
		{"time offsets without timens", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "need a new time namespace"},
		{"bad personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "BSD"} }, "is not LINUX"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "nope" }, "does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, s := validBundle(t)
			c.mutate(s)
			err := ValidateSpec(s, dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestValidateSpecReportsEveryProblem(t *testing.T) {
	dir, s := validBundle(t)
	s.Version = "9.9.9"
	s.Process.Cwd = "relative"
	err := ValidateSpec(s, dir)
	if err == nil || !strings.Contains(err.Error(), "ociVersion") || !strings.Contains(err.Error(), "cwd") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSpec(dir); !errdefs.IsNotFound(err) {
		t.Fatalf("missing config.json: got %v, want NotFound", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion": `), 0o644)
	if _, err := LoadSpec(dir); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("malformed config.json: got %v, want InvalidParameter", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.0","unknownField":{"x":1},"root":{"path":"r"}}`), 0o644)
	s, err := LoadSpec(dir)
	if err != nil || s.Root.Path != "r" {
		t.Fatalf("unknown fields must be ignored: %v", err)
	}
}

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-123", "x_y.z", "A+B", strings.Repeat("a", 1024)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("%q rejected: %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", ".hidden", "a/b", "../x", "a b", "a\x00b", "caf\u00e9", "a\xffb", strings.Repeat("a", 1025)} {
		if err := ValidateID(id); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: got %v, want InvalidParameter", id, err)
		}
	}
}
