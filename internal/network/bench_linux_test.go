package network

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkConnect measures the container-start share of networking:
// NewSandbox plus Connect to a bridge network with the default route, as
// a container on the default bridge gets, with a ready-made interface
// (the usual case) and with one created on the spot (the pool empty).
// Disconnect and RemoveSandbox run with the timer stopped.
//
//	go test -run '^$' -bench Connect -benchtime 200x ./internal/network
func BenchmarkConnect(b *testing.B) {
	b.Run("ready", func(b *testing.B) { benchConnect(b, false) })
	b.Run("created", func(b *testing.B) { benchConnect(b, true) })
}

func benchConnect(b *testing.B, drain bool) {
	e := newTestNet(b)
	m := e.start()
	defer e.teardown(m)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, CreateRequest{Name: "bench", Subnet: e.subnet()}); err != nil {
		b.Fatal(err)
	}
	var sandbox, connect time.Duration
	ready := m.sandboxes.readyTaken.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if drain {
			b.StopTimer()
			for len(m.sandboxes.ready) > 0 {
				unix.Close((<-m.sandboxes.ready).fd)
			}
			b.StartTimer()
		}
		id := "b" + randHex(63)
		t0 := time.Now()
		p, err := m.NewSandbox(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := m.Connect(ctx, p, EndpointConfig{ContainerID: id, Network: "bench", DefaultRoute: true}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		sandbox += t1.Sub(t0)
		connect += t2.Sub(t1)
		b.StopTimer()
		if err := m.Disconnect(ctx, id, "bench"); err != nil {
			b.Fatal(err)
		}
		if err := m.RemoveSandbox(ctx, id); err != nil {
			b.Fatal(err)
		}
		// Let the pools refill, as they do between container starts
		// (a start takes tens of milliseconds).
		time.Sleep(20 * time.Millisecond)
		b.StartTimer()
	}
	b.ReportMetric(float64(m.sandboxes.readyTaken.Load()-ready)/float64(b.N), "ready/op")
	b.ReportMetric(float64(sandbox.Microseconds())/float64(b.N), "µs-sandbox/op")
	b.ReportMetric(float64(connect.Microseconds())/float64(b.N), "µs-connect/op")
}
