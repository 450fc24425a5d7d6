package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStartFrame keeps the published start frame equal to what start
// itself sends: the shim sends StartFrame's bytes without this package.
func TestStartFrame(t *testing.T) {
	var b bytes.Buffer
	if err := writeFrame(&b, &syncMsg{Type: msgStart}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), StartFrame) {
		t.Fatalf("start sends %q, StartFrame is %q", b.Bytes(), StartFrame)
	}
	m, err := readFrame(bytes.NewReader(StartFrame))
	if err != nil || m.Type != msgStart {
		t.Fatalf("StartFrame reads as %+v, %v", m, err)
	}
}

func TestDirectStartAllowed(t *testing.T) {
	hook := specs.Hook{Path: "/bin/true"}
	cases := []struct {
		name string
		spec specs.Spec
		want bool
	}{
		{"plain", specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}, true},
		{"no process", specs.Spec{Linux: &specs.Linux{}}, false},
		{"other hooks", specs.Spec{Process: &specs.Process{}, Hooks: &specs.Hooks{
			StartContainer: []specs.Hook{hook}, Poststop: []specs.Hook{hook}, CreateRuntime: []specs.Hook{hook},
		}}, true},
		{"poststart hook", specs.Spec{Process: &specs.Process{}, Hooks: &specs.Hooks{Poststart: []specs.Hook{hook}}}, false},
		{"seccomp", specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}},
		}}}, true},
		{"seccomp notify", specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}},
		}}}, false},
		{"seccomp listener", specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
		}}}, false},
	}
	for _, c := range cases {
		if got := directStartAllowed(&c.spec); got != c.want {
			t.Errorf("%s: directStartAllowed = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDirectDeleteFile(t *testing.T) {
	dir := t.TempDir()
	paths := map[string]string{"": "/sys/fs/cgroup/unified/a", "memory": "/sys/fs/cgroup/memory/a", "cpu": "/sys/fs/cgroup/cpu,cpuacct/a", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/a"}
	if err := writeDirectDelete(dir, paths); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, DirectDeleteFile))
	if err != nil {
		t.Fatal(err)
	}
	want := "/sys/fs/cgroup/cpu,cpuacct/a\n/sys/fs/cgroup/memory/a\n/sys/fs/cgroup/unified/a\n"
	if string(data) != want {
		t.Fatalf("got %q, want %q", data, want)
	}
	// A path the format cannot hold: no file, delete does it all.
	other := t.TempDir()
	if err := writeDirectDelete(other, map[string]string{"": "/sys/fs/cgroup/a\nb"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, DirectDeleteFile)); !os.IsNotExist(err) {
		t.Fatalf("file for a path with a newline: %v", err)
	}
	if !directDeleteAllowed(&specs.Spec{}) || directDeleteAllowed(&specs.Spec{Hooks: &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}}) {
		t.Fatal("directDeleteAllowed")
	}
}
