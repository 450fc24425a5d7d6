package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/daemon/config"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/image/interchange"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/daemontest"
	"github.com/berth-project/berth/internal/testenv/nettest"
)

// busyboxArchive is a docker-archive of imagetest's busybox image as
// busybox:latest, made once per test binary.
var busyboxArchive struct {
	once sync.Once
	data []byte
}

func busyboxTar(t *testing.T) []byte {
	t.Helper()
	busyboxArchive.once.Do(func() {
		img := imagetest.BusyboxImage(t)
		p := filepath.Join(t.TempDir(), "busybox.tar")
		imagetest.WriteDockerArchive(t, p, map[string]v1.Image{"busybox:latest": img}, imagetest.ArchiveOCI)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		busyboxArchive.data = b
	})
	if busyboxArchive.data == nil {
		t.Fatal("no busybox archive (an earlier test failed to make it)")
	}
	return busyboxArchive.data
}

// testRoots makes short data and exec roots (shim sockets live under the
// exec root, and unix socket paths are short).
func testRoots(t *testing.T) config.Config {
	t.Helper()
	dir, err := os.MkdirTemp("", "bd-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataRoot = filepath.Join(dir, "data")
	cfg.ExecRoot = filepath.Join(dir, "x")
	// A prefix and a default bridge subnet reserved on the host, so the
	// real daemons of tests running at once never share a bridge, a
	// subnet or a cgroup; the links and tables they leave (live restore
	// keeps them) are removed when t ends, after the daemons.
	cfg.ResourcePrefix = nettest.Prefix(t)
	sub := nettest.Subnet(t)
	cfg.BIP = fmt.Sprintf("%s/%d", nettest.Nth(sub, 1), sub.Bits())
	t.Cleanup(func() {
		removeCgroups(cfg.EffectiveCgroupParent())
		entries, _ := os.ReadDir(filepath.Join(cfg.ExecRoot, "bundles"))
		for _, e := range entries {
			_ = mount.UnmountAll(filepath.Join(cfg.ExecRoot, "bundles", e.Name(), "rootfs"), 2 /* MNT_DETACH */)
		}
		entries, _ = os.ReadDir(filepath.Join(cfg.ExecRoot, "netns"))
		for _, e := range entries {
			_ = mount.UnmountAll(filepath.Join(cfg.ExecRoot, "netns", e.Name()), 2 /* MNT_DETACH */)
		}
		if err := daemontest.RemoveNetworking(cfg.ResourcePrefix); err != nil {
			t.Errorf("remove the test's links and tables: %v", err)
		}
		// The daemon mounts a tmpfs on an exec root on disk.
		_ = mount.UnmountAll(cfg.ExecRoot, 2 /* MNT_DETACH */)
		_ = os.RemoveAll(dir)
	})
	return cfg
}

// newTestDaemon opens a daemon on cfg's roots with the fake shim and
// busybox:latest loaded. It is closed when t ends.
func newTestDaemon(t *testing.T, cfg config.Config, fake *fakeLauncher) *Daemon {
	t.Helper()
	testenv.RequireRoot(t)
	d, err := New(context.Background(), cfg, withTaskLauncher(fake), withNetworkManager(fakeNetFor(cfg).open), WithBinDir(testenv.BinDir(t)),
		WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := interchange.Load(context.Background(), bytes.NewReader(busyboxTar(t)), d.ImageStore()); err != nil {
		t.Fatalf("load busybox: %v", err)
	}
	return d
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// eventLog records a daemon's events.
type eventLog struct {
	mu   sync.Mutex
	msgs []events.Message
}

func recordEvents(t *testing.T, d *Daemon) *eventLog {
	l := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Since the epoch: the bus replays what it kept, so nothing
		// published before the subscription is missed.
		_ = d.EventBus().Subscribe(ctx, time.Unix(1, 0), time.Time{}, nil, func(m events.Message) error {
			l.mu.Lock()
			l.msgs = append(l.msgs, m)
			l.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(cancel)
	return l
}

// actions lists the actions seen for container id.
func (l *eventLog) actions(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.msgs {
		if m.Actor.ID == id {
			out = append(out, string(m.Action))
		}
	}
	return out
}

func (l *eventLog) find(id string, action string) *events.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.msgs {
		if l.msgs[i].Actor.ID == id && string(l.msgs[i].Action) == action {
			m := l.msgs[i]
			return &m
		}
	}
	return nil
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type cfgT = config.Config

var readFile = os.ReadFile

// removeCgroups removes the (empty) cgroup parent a test's containers
// used, in every hierarchy, children first.
func removeCgroups(parent string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		i := slices.Index(fields, "-")
		if i < 0 || i+1 >= len(fields) || (fields[i+1] != "cgroup" && fields[i+1] != "cgroup2") {
			continue
		}
		root := filepath.Join(fields[4], parent)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for j := len(dirs) - 1; j >= 0; j-- {
			_ = os.Remove(dirs[j])
		}
	}
}

// autoRemove makes a created container auto-remove (create's mod).
func autoRemove(_ *containertypes.Config, h *containertypes.HostConfig) { h.AutoRemove = true }
