package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

func TestParseDetachKeys(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]byte{
		"ctrl-p,ctrl-q": {16, 17},
		"ctrl-a":        {1},
		"a,b":           {'a', 'b'},
		"ctrl-@,ctrl-_": {0, 31},
		"ctrl-[":        {27},
	} {
		got, err := parseDetachKeys(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-1", "abc", "ctrl-ab"} {
		if _, err := parseDetachKeys(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDetachReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       string
		out      string
		detached bool
	}{
		{"hello", "hello", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b\x10\x11", "a\x10b", true},
		{"\x10\x10\x11", "\x10", true},
		{"x\x10", "x\x10", false}, // cut short by EOF: typed, not a detach
	} {
		detached := false
		r := newDetachReader(iotest.OneByteReader(strings.NewReader(tc.in)), []byte{16, 17}, func() { detached = true })
		got, err := io.ReadAll(r)
		if tc.detached {
			if !errors.Is(err, errDetached) {
				t.Errorf("%q: err %v", tc.in, err)
			}
		} else if err != nil {
			t.Errorf("%q: err %v", tc.in, err)
		}
		if string(got) != tc.out || detached != tc.detached {
			t.Errorf("%q: got %q detached %v", tc.in, got, detached)
		}
	}
}

func TestParseSignal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]syscall.Signal{
		"9": 9, "KILL": syscall.SIGKILL, "SIGTERM": syscall.SIGTERM, "sigusr1": syscall.SIGUSR1,
		"RTMIN+3": 37, "SIGRTMAX-1": 63, "RTMIN": 34,
	} {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"0", "65", "NOPE", "RTMIN+40", ""} {
		if _, err := parseSignal(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParsePS(t *testing.T) {
	t.Parallel()
	out := []byte("UID          PID    PPID  C STIME TTY          TIME CMD\n" +
		"root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n" +
		"root          42       1  0 10:00 ?        00:00:00 sleep   1000\n" +
		"root          43       1  0 10:00 ?        00:00:00 other\n")
	top, err := parsePS(out, []int{42, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Titles) != 8 || len(top.Processes) != 2 || top.Processes[0][7] != "/sbin/init splash" || top.Processes[1][1] != "42" {
		t.Fatalf("%+v", top)
	}
	if _, err := parsePS([]byte("USER COMMAND\nroot x\n"), nil); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("no PID column: %v", err)
	}
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	now := testNow()
	st := &container.State{Status: container.Created}
	if s := statusString(st, now); s != "Created" {
		t.Errorf("%q", s)
	}
	st = &container.State{Status: container.Running, StartedAt: now.Add(-5 * 60e9)}
	if s := statusString(st, now); s != "Up 5 minutes" {
		t.Errorf("%q", s)
	}
	st.Health = &containertypes.Health{Status: containertypes.Starting}
	if s := statusString(st, now); s != "Up 5 minutes (health: starting)" {
		t.Errorf("%q", s)
	}
	st = &container.State{Status: container.Exited, ExitCode: 2, StartedAt: now.Add(-1e9), FinishedAt: now.Add(-3e9)}
	if s := statusString(st, now); s != "Exited (2) 3 seconds ago" {
		t.Errorf("%q", s)
	}
	st = &container.State{Status: container.Paused, StartedAt: now.Add(-3600e9)}
	if s := statusString(st, now); s != "Up About an hour (Paused)" {
		t.Errorf("%q", s)
	}
}

func TestLayoutMigrations(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	if LayoutVersion != len(migrations) {
		t.Fatalf("LayoutVersion %d but %d migrations", LayoutVersion, len(migrations))
	}
	// A fresh root is stamped with the current version, nothing to run.
	fresh := t.TempDir()
	if err := migrateLayout(ctx, fresh, log); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, versionFile)); string(b) != "1\n" {
		t.Fatalf("version %q", b)
	}
	// A root with data and no version is 0: every step runs, in order.
	old := t.TempDir()
	_ = os.Mkdir(filepath.Join(old, "images"), 0o700)
	var ran []string
	chain := []migration{
		{"0->1", func(_ context.Context, root string, _ *slog.Logger) error { ran = append(ran, "0->1"); return nil }},
		{"1->2", func(_ context.Context, root string, _ *slog.Logger) error { ran = append(ran, "1->2"); return nil }},
		{"2->3", func(_ context.Context, root string, _ *slog.Logger) error { ran = append(ran, "2->3"); return nil }},
	}
	if err := migrateLayoutWith(ctx, old, log, chain); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []string{"0->1", "1->2", "2->3"}) {
		t.Fatalf("ran %v", ran)
	}
	// Version 1 runs only the later steps; a failing step stops the chain
	// and leaves the version of the last step done.
	mid := t.TempDir()
	_ = writeLayoutVersion(mid, 1)
	ran = nil
	chain[2].fn = func(context.Context, string, *slog.Logger) error { return errors.New("disk on fire") }
	if err := migrateLayoutWith(ctx, mid, log, chain); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("failing step: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(mid, versionFile)); string(b) != "2\n" || !slices.Equal(ran, []string{"1->2"}) {
		t.Fatalf("version %q ran %v", b, ran)
	}
	// A newer layout is refused.
	newer := t.TempDir()
	_ = writeLayoutVersion(newer, 9)
	if err := migrateLayout(ctx, newer, log); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer layout: %v", err)
	}
	// The real chain: version 0 gets containers/.
	v0 := t.TempDir()
	_ = os.Mkdir(filepath.Join(v0, "content"), 0o700)
	if err := migrateLayout(ctx, v0, log); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(v0, "containers")); err != nil || !fi.IsDir() {
		t.Fatalf("containers/ not made: %v", err)
	}
}

func TestHostsAndResolvConf(t *testing.T) {
	t.Parallel()
	h, err := buildHosts(&containertypes.HostConfig{NetworkMode: "none", ExtraHosts: []string{"db:10.0.0.5", "v6:[::2]"}}, "abc123", "example.org", netFiles{})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost ip6-loopback\n",
		"127.0.0.1\tabc123.example.org abc123\n", "10.0.0.5\tdb\n", "::2\tv6\n"} {
		if !strings.Contains(string(h), line) {
			t.Errorf("hosts lacks %q:\n%s", line, h)
		}
	}
	if _, err := buildHosts(&containertypes.HostConfig{ExtraHosts: []string{"x:notanip"}}, "h", "", netFiles{}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad add-host: %v", err)
	}
	r, err := buildResolvConf(&containertypes.HostConfig{NetworkMode: "none", DNSSearch: []string{"corp"}, DNSOptions: []string{"ndots:2"}}, netFiles{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(r), "nameserver 127.") || !strings.Contains(string(r), "search corp\n") || !strings.Contains(string(r), "options ndots:2\n") {
		t.Errorf("resolv.conf:\n%s", r)
	}
}

func testNow() time.Time { return time.Now() }
