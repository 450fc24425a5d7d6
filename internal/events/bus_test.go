package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/errdefs"
	bus "github.com/berth-project/berth/internal/events"
)

// clock is a settable time source, so replay windows are exact.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func containerEvent(action events.Action, id, name string, attrs map[string]string) events.Message {
	a := map[string]string{"name": name}
	for k, v := range attrs {
		a[k] = v
	}
	return events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: id, Attributes: a}}
}

// collect subscribes in the background and returns what it got once it
// ends.
func collect(t *testing.T, b *bus.Bus, ctx context.Context, since, until time.Time, f map[string][]string) func() ([]events.Message, error) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []events.Message
	)
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(ctx, since, until, f, func(m events.Message) error {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
			return nil
		})
	}()
	return func() ([]events.Message, error) {
		select {
		case err := <-done:
			mu.Lock()
			defer mu.Unlock()
			return got, err
		case <-time.After(10 * time.Second):
			t.Fatal("Subscribe did not return")
			return nil, nil
		}
	}
}

func waitSubscribers(t *testing.T, b *bus.Bus, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", b.Subscribers(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

var errStop = errors.New("stop")

func TestPublishFillsTimeAndScope(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1000, 0)}
	b := bus.NewBus(bus.WithClock(c.now))
	b.Publish(containerEvent(events.ActionStart, "abc", "web", nil))
	var got events.Message
	// until is the clock's next reading: only past events, no wait.
	err := b.Subscribe(t.Context(), time.Unix(1, 0), time.Unix(1000, 2e6), nil, func(m events.Message) error { got = m; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Time != 1000 || got.TimeNano != time.Unix(1000, 0).Add(time.Millisecond).UnixNano() || got.Scope != "local" {
		t.Errorf("got %+v", got)
	}
}

func TestReplayWindowThenLive(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1000, 0)}
	b := bus.NewBus(bus.WithClock(c.now))
	for i := range 5 {
		b.Publish(containerEvent(events.ActionStart, fmt.Sprint("c", i), "n", nil))
	}
	// Events are at 1000s + 1..5 ms; since 2ms keeps c1..c4.
	since := time.Unix(1000, 0).Add(2 * time.Millisecond)
	var got []events.Message
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(t.Context(), since, time.Time{}, nil, func(m events.Message) error {
			got = append(got, m)
			if m.Actor.ID == "live" {
				return errStop
			}
			return nil
		})
	}()
	waitSubscribers(t, b, 1)
	b.Publish(containerEvent(events.ActionStop, "live", "n", nil))
	if err := <-done; err != errStop {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got {
		ids = append(ids, m.Actor.ID)
	}
	if fmt.Sprint(ids) != "[c1 c2 c3 c4 live]" {
		t.Errorf("got %v", ids)
	}
}

func TestNoReplayWithoutSince(t *testing.T) {
	t.Parallel()
	b := bus.NewBus()
	b.Publish(containerEvent(events.ActionStart, "old", "n", nil))
	ctx, cancel := context.WithCancel(t.Context())
	wait := collect(t, b, ctx, time.Time{}, time.Time{}, nil)
	waitSubscribers(t, b, 1)
	b.Publish(containerEvent(events.ActionStart, "new", "n", nil))
	time.Sleep(20 * time.Millisecond)
	cancel()
	got, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Actor.ID != "new" {
		t.Errorf("got %+v", got)
	}
	if n := b.Subscribers(); n != 0 {
		t.Errorf("%d subscribers left", n)
	}
}

func TestUntilInThePastReturnsAfterReplay(t *testing.T) {
	t.Parallel()
	b := bus.NewBus()
	b.Publish(containerEvent(events.ActionStart, "a", "n", nil))
	b.Publish(containerEvent(events.ActionStop, "a", "n", nil))
	var got []events.Message
	err := b.Subscribe(t.Context(), time.Time{}, time.Now(), nil, func(m events.Message) error { got = append(got, m); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("got %d events, want 2", len(got))
	}
}

func TestUntilInTheFutureEnds(t *testing.T) {
	t.Parallel()
	b := bus.NewBus()
	start := time.Now()
	err := b.Subscribe(t.Context(), time.Time{}, start.Add(100*time.Millisecond), nil, func(events.Message) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 5*time.Second {
		t.Errorf("returned after %s", d)
	}
}

func TestSinceAfterUntil(t *testing.T) {
	t.Parallel()
	b := bus.NewBus()
	err := b.Subscribe(t.Context(), time.Unix(20, 0), time.Unix(10, 0), nil, func(events.Message) error { return nil })
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("err %v, want InvalidParameter", err)
	}
}

func TestBufferKeepsLastN(t *testing.T) {
	t.Parallel()
	b := bus.NewBus(bus.WithBufferSize(3))
	for i := range 10 {
		b.Publish(containerEvent(events.ActionStart, fmt.Sprint(i), "n", nil))
	}
	var ids []string
	err := b.Subscribe(t.Context(), time.Unix(1, 0), time.Now(), nil, func(m events.Message) error { ids = append(ids, m.Actor.ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[7 8 9]" {
		t.Errorf("got %v", ids)
	}
}

func TestSendErrorEnds(t *testing.T) {
	t.Parallel()
	b := bus.NewBus()
	boom := errors.New("client gone")
	wait := make(chan error, 1)
	go func() {
		wait <- b.Subscribe(t.Context(), time.Time{}, time.Time{}, nil, func(events.Message) error { return boom })
	}()
	waitSubscribers(t, b, 1)
	b.Publish(containerEvent(events.ActionStart, "a", "n", nil))
	if err := <-wait; !errors.Is(err, boom) {
		t.Errorf("err %v", err)
	}
	waitSubscribers(t, b, 0)
}

// A subscriber that does not read is dropped; Publish never waits for it
// and the other subscribers get everything.
func TestSlowSubscriberDropped(t *testing.T) {
	t.Parallel()
	b := bus.NewBus(bus.WithQueueSize(16))
	release := make(chan struct{})
	slowDone := make(chan error, 1)
	var slowGot int
	go func() {
		slowDone <- b.Subscribe(t.Context(), time.Time{}, time.Time{}, nil, func(events.Message) error {
			<-release
			slowGot++
			return nil
		})
	}()
	ctx, cancel := context.WithCancel(t.Context())
	var fastGot int
	var mu sync.Mutex
	fastDone := make(chan error, 1)
	go func() {
		fastDone <- b.Subscribe(ctx, time.Time{}, time.Time{}, nil, func(events.Message) error {
			mu.Lock()
			fastGot++
			mu.Unlock()
			return nil
		})
	}()
	waitSubscribers(t, b, 2)
	start := time.Now()
	for i := range 100 {
		b.Publish(containerEvent(events.ActionStart, fmt.Sprint(i), "n", nil))
		time.Sleep(500 * time.Microsecond) // the fast one keeps up

	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("publishing took %s: a slow subscriber held it up", d)
	}
	close(release)
	err := <-slowDone
	if !errdefs.IsUnavailable(err) {
		t.Errorf("slow subscriber: err %v, want Unavailable", err)
	}
	if slowGot == 0 || slowGot >= 100 {
		t.Errorf("slow subscriber got %d events", slowGot)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := fastGot
		mu.Unlock()
		if n == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fast subscriber got %d of 100", n)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-fastDone; err != nil {
		t.Error(err)
	}
}

func TestCloseEndsSubscribers(t *testing.T) {
	t.Parallel()
	b := bus.NewBus()
	done := make(chan error, 1)
	go func() {
		done <- b.Subscribe(t.Context(), time.Time{}, time.Time{}, nil, func(events.Message) error { return nil })
	}()
	waitSubscribers(t, b, 1)
	b.Close()
	if err := <-done; err != nil {
		t.Errorf("err %v", err)
	}
	b.Publish(containerEvent(events.ActionStart, "a", "n", nil)) // no panic, dropped
}

// Many publishers and subscribers at once: run with -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	b := bus.NewBus(bus.WithBufferSize(50))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := map[string][]string{"container": {fmt.Sprint("c", i%2)}}
			_ = b.Subscribe(ctx, time.Unix(1, 0), time.Time{}, f, func(events.Message) error { return nil })
		}()
	}
	var pw sync.WaitGroup
	for i := range 4 {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for j := range 200 {
				b.Publish(containerEvent(events.ActionStart, fmt.Sprint("c", (i+j)%3), "n", nil))
			}
		}()
	}
	pw.Wait()
	cancel()
	wg.Wait()
	waitSubscribers(t, b, 0)
}
