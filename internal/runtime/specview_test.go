package runtime

import (
	"encoding/json"
	"log/slog"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStateKeepsConfig: the state keeps the config as JSON, the view
// decodes what start, state and delete need, Spec the whole, and a
// changed spec is written back.
func TestStateKeepsConfig(t *testing.T) {
	spec := &specs.Spec{
		Version:     specs.Version,
		Process:     &specs.Process{Args: []string{"true"}, Cwd: "/"},
		Root:        &specs.Root{Path: "rootfs"},
		Annotations: map[string]string{"a": "b"},
		Hooks: &specs.Hooks{
			Poststart: []specs.Hook{{Path: "/bin/true"}},
			Poststop:  []specs.Hook{{Path: "/bin/false", Args: []string{"false"}}},
		},
		Linux: &specs.Linux{
			Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/l.sock", ListenerMetadata: "m"},
		},
	}
	config, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeState(dir, &savedState{ID: "c", Config: config}); err != nil {
		t.Fatal(err)
	}
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{rt: &Runtime{log: slog.New(slog.DiscardHandler)}, dir: dir, st: st}
	v := c.view()
	if v.Annotations["a"] != "b" || len(v.poststart()) != 1 || len(v.poststop()) != 1 || v.poststop()[0].Path != "/bin/false" {
		t.Fatalf("view: %+v", v)
	}
	if p, m := v.seccompListener(); p != "/run/l.sock" || m != "m" {
		t.Fatalf("listener %q %q", p, m)
	}
	got, err := c.Spec()
	if err != nil || got.Process.Args[0] != "true" || got.Linux.Seccomp.DefaultAction != specs.ActAllow {
		t.Fatalf("Spec: %+v %v", got, err)
	}
	limit := int64(100)
	got.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
	if err := c.setSpec(got); err != nil {
		t.Fatal(err)
	}
	if err := writeState(dir, c.st); err != nil {
		t.Fatal(err)
	}
	st, err = readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	again := &Container{rt: c.rt, dir: dir, st: st}
	s2, err := again.Spec()
	if err != nil || s2.Linux.Resources == nil || *s2.Linux.Resources.Pids.Limit != 100 || again.view().Annotations["a"] != "b" {
		t.Fatalf("after setSpec: %+v %v", s2, err)
	}

	// A damaged config still lets delete go ahead: the view is empty.
	bad := &Container{rt: c.rt, dir: dir, st: &savedState{ID: "c", Config: json.RawMessage(`{"hooks":5}`)}}
	if v := bad.view(); v.Hooks != nil || v.Annotations != nil {
		t.Fatalf("bad view: %+v", v)
	}
	if _, err := bad.Spec(); err == nil {
		t.Fatal("Spec of a damaged config")
	}
}
