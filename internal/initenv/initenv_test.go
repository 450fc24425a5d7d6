package initenv

import (
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{
		nil,
		{"PATH=/bin", "HOME=/root"},
		{"PATH=/bin", "GOMAXPROCS=4", "HOME=/root"},
		{"GOMAXPROCS=1"},
		{"GOMAXPROCS="},
	} {
		init := ForInit(env)
		if !slices.Contains(init, "GOMAXPROCS=1") {
			t.Errorf("ForInit(%q) = %q: no GOMAXPROCS=1", env, init)
		}
		if got := ForCommand(init); !slices.Equal(got, env) && (len(got) != 0 || len(env) != 0) {
			t.Errorf("ForCommand(ForInit(%q)) = %q", env, got)
		}
	}
}

// TestForeignEnv: an environment the engine did not make, and a marker the
// user set, are not taken for the engine's.
func TestForeignEnv(t *testing.T) {
	t.Parallel()
	env := []string{"GOMAXPROCS=3", "A=b"}
	if got := ForCommand(env); !slices.Equal(got, env) {
		t.Errorf("ForCommand(%q) = %q, want it unchanged", env, got)
	}
	got := ForCommand(ForInit([]string{"BERTH_INIT_GOMAXPROCS==9", "A=b"}))
	if want := []string{"A=b"}; !slices.Equal(got, want) {
		t.Errorf("a user's marker came back as %q, want %q", got, want)
	}
}
