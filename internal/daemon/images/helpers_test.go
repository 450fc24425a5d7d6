package images_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/distribution"
	bus "github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/testenv"
)

// users is a fake of the daemon's containers: image ID -> container IDs,
// and which of them run.
type users struct {
	mu      sync.Mutex
	byImage map[digest.Digest][]string
	running map[string]bool
}

func (u *users) use(id digest.Digest, container string, running bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byImage[id] = append(u.byImage[id], container)
	u.running[container] = running
}

func (u *users) clear() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byImage = map[digest.Digest][]string{}
	u.running = map[string]bool{}
}

type fixture struct {
	svc    *images.Service
	events *bus.Bus
	users  *users
	root   string
}

// newService opens a service on a fresh data root, with a fake of the
// daemon's containers and an event bus.
func newService(t *testing.T, opts ...func(*images.Options)) *fixture {
	t.Helper()
	testenv.RequireRoot(t)
	f := &fixture{events: bus.NewBus(), users: &users{}, root: t.TempDir()}
	f.users.clear()
	o := images.Options{
		Root:   f.root,
		Events: f.events,
		ImageInUse: func(id digest.Digest) []string {
			f.users.mu.Lock()
			defer f.users.mu.Unlock()
			return append([]string(nil), f.users.byImage[id]...)
		},
		ContainerRunning: func(id string) bool {
			f.users.mu.Lock()
			defer f.users.mu.Unlock()
			return f.users.running[id]
		},
		ConfigDir:    t.TempDir(),
		Distribution: []distribution.Option{distribution.WithRetries(1, 10*time.Millisecond)},
	}
	for _, fn := range opts {
		fn(&o)
	}
	svc, err := images.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	})
	f.svc = svc
	return f
}

// messages parses a JSON message stream.
func messages(t *testing.T, b []byte) []jsonMessage {
	t.Helper()
	var out []jsonMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m jsonMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stream line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// jsonMessage is a stream line, with the error fields docker sends.
type jsonMessage struct {
	jsonstream.Message
	ErrorMsg string `json:"error"`
}

// recorder collects the bus's events from now on.
type recorder struct {
	mu     sync.Mutex
	got    []events.Message
	cancel context.CancelFunc
	done   chan struct{}
}

func record(t *testing.T, b *bus.Bus) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &recorder{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = b.Subscribe(ctx, time.Time{}, time.Time{}, nil, func(m events.Message) error {
			r.mu.Lock()
			r.got = append(r.got, m)
			r.mu.Unlock()
			return nil
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for b.Subscribers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("subscriber did not register")
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(cancel)
	return r
}

// wait returns the actions seen once n events arrived (or after 5 s).
func (r *recorder) actions(n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.got) >= n || time.Now().After(deadline) {
			var out []string
			for _, m := range r.got {
				out = append(out, string(m.Action))
			}
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
}

func (r *recorder) events() []events.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Message(nil), r.got...)
}
