package container

import (
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestStateMachine(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s := &State{Status: Created}
	steps := []struct {
		name string
		do   func() error
		want Status
		ok   bool
	}{
		{"pause a created container", s.SetPaused, Created, false},
		{"start", func() error { return s.SetRunning(42, now) }, Running, true},
		{"start twice", func() error { return s.SetRunning(43, now) }, Running, false},
		{"pause", s.SetPaused, Paused, true},
		{"pause twice", s.SetPaused, Paused, false},
		{"start a paused container", func() error { return s.SetRunning(43, now) }, Paused, false},
		{"unpause", s.SetUnpaused, Running, true},
		{"exit into a restart", func() error { return s.SetRestarting(1, false, now) }, Restarting, true},
		{"restarted", func() error { return s.SetRunning(44, now) }, Running, true},
		{"exit", func() error { return s.SetExited(137, true, now, "") }, Exited, true},
		{"unpause an exited container", s.SetUnpaused, Exited, false},
		{"remove", s.SetRemoving, Removing, true},
		{"start while removing", func() error { return s.SetRunning(45, now) }, Removing, false},
		{"removal failed", func() error { return s.SetDead("disk on fire") }, Dead, true},
		{"remove again", s.SetRemoving, Removing, true},
	}
	for _, st := range steps {
		err := st.do()
		if (err == nil) != st.ok {
			t.Fatalf("%s: err %v, want ok=%v", st.name, err, st.ok)
		}
		if err != nil && !errdefs.IsConflict(err) {
			t.Fatalf("%s: error %v is not a Conflict", st.name, err)
		}
		if s.Status != st.want {
			t.Fatalf("%s: state %s, want %s", st.name, s.Status, st.want)
		}
	}
}

func TestStateAPIShape(t *testing.T) {
	t.Parallel()
	s := &State{Status: Created}
	api := s.APIState()
	if api.StartedAt != "0001-01-01T00:00:00Z" || api.Running || api.Status != "created" {
		t.Fatalf("created: %+v", api)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := s.SetRunning(7, at); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRestarting(2, false, at); err != nil {
		t.Fatal(err)
	}
	api = s.APIState()
	if !api.Running || !api.Restarting || api.Pid != 0 || api.ExitCode != 2 {
		t.Fatalf("restarting: %+v", api)
	}
	if api.StartedAt != "2025-01-02T03:04:05.000000006Z" {
		t.Fatalf("StartedAt %q", api.StartedAt)
	}
	if err := s.SetExited(137, true, at, ""); err != nil {
		t.Fatal(err)
	}
	if api = s.APIState(); api.Running || !api.OOMKilled || api.Status != "exited" {
		t.Fatalf("exited: %+v", api)
	}
}

func TestEveryStateHasTransitions(t *testing.T) {
	t.Parallel()
	for _, st := range []Status{Created, Running, Paused, Restarting, Removing, Exited, Dead} {
		if len(transitions[st]) == 0 {
			t.Errorf("state %s has no way out", st)
		}
	}
}
