package daemon

import (
	"sync"
	"testing"
	"time"
)

// TestInflightAddWhileWaiting starts work while others wait, the pattern
// on which a sync.WaitGroup panics; every wait must return once the work
// it saw is done.
func TestInflightAddWhileWaiting(t *testing.T) {
	var f inflight
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 2000 {
				f.add()
				go f.done()
			}
		}()
		go func() {
			defer wg.Done()
			for range 2000 {
				f.wait()
			}
		}()
	}
	wg.Wait()
	f.add()
	waited := make(chan struct{})
	go func() { f.wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("wait returned while work was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	f.done()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after the work was done")
	}
}
