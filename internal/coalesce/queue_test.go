package coalesce

import (
	"context"
	"fmt"
	"testing"
	"time"
)

type event struct {
	id    string
	count int
}

// countKey makes events with a count replaceable per id.
func countKey(e event) (string, bool) { return e.id, e.count > 0 }

func toChan(ch chan<- event) DeliverFunc[event] {
	return func(e event, stop <-chan struct{}) bool {
		select {
		case ch <- e:
			return true
		case <-stop:
			return false
		}
	}
}

// TestOrderAndCoalescing: with no reader, Send returns at once; counts of
// one id merge into the newest, in the place of the first; everything else
// arrives in order; Close delivers the rest once a reader comes.
func TestOrderAndCoalescing(t *testing.T) {
	ch := make(chan event)
	q := New(countKey, toChan(ch))
	start := time.Now()
	q.Send(event{id: "a"})
	for i := 1; i <= 50000; i++ {
		q.Send(event{id: "a", count: i})
		q.Send(event{id: "b", count: i})
	}
	q.Send(event{id: "a"})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("sending took %v with no reader", d)
	}
	var got []event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range ch {
			got = append(got, e)
		}
	}()
	q.Close(context.Background())
	close(ch)
	<-done
	// The reader was absent, but the queue's goroutine may hold one value
	// taken before it blocked: at most one extra count each.
	if len(got) < 4 || len(got) > 6 {
		t.Fatalf("got %v", got)
	}
	if got[0] != (event{id: "a"}) || got[len(got)-1] != (event{id: "a"}) {
		t.Errorf("order lost: %v", got)
	}
	last := map[string]int{}
	for _, e := range got {
		if e.count > 0 {
			last[e.id] = e.count
		}
	}
	if last["a"] != 50000 || last["b"] != 50000 {
		t.Errorf("newest counts not delivered: %v", got)
	}
	// After Close nothing is queued or delivered.
	q.Send(event{id: "late"})
}

// TestCloseGivesUp: a Close whose ctx ends drops what a reader never took.
func TestCloseGivesUp(t *testing.T) {
	q := New(countKey, toChan(make(chan event)))
	for i := range 10 {
		q.Send(event{id: fmt.Sprint(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { q.Close(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after its ctx ended")
	}
}

// TestNilQueue drops everything without panicking.
func TestNilQueue(t *testing.T) {
	var q *Queue[event]
	q.Send(event{id: "x"})
	q.Close(context.Background())
}
