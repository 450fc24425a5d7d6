package shim

import (
	"runtime/debug"
	"sync"
	"time"
)

// memoryLimit is where the Go runtime collects whatever happens: far
// above an idle shim (under 1 MiB) and a busy one (a few MiB).
const memoryLimit = 64 << 20

// callsPerCollection is how many calls may leave their garbage before
// the shim collects: each allocates from a few KiB (state) to some tens
// (stats, exec: JSON and a runtime command), so a shim polled for stats
// every second stays at a few MiB instead of growing to memoryLimit, and
// an idle one never pays for a collection.
const callsPerCollection = 100

var gc struct {
	mu     sync.Mutex
	active int // calls in progress
	calls  int // calls since the last collection
}

// callStarted and callDone bracket the handling of one connection.
func callStarted() {
	gc.mu.Lock()
	gc.active++
	gc.calls++
	gc.mu.Unlock()
}

// activeCalls is how many connections are being handled.
func activeCalls() int {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return gc.active
}

func callDone() {
	gc.mu.Lock()
	gc.active--
	collect := gc.active == 0 && gc.calls >= callsPerCollection
	if collect {
		gc.calls = 0
	}
	gc.mu.Unlock()
	if collect {
		// Collect and give the freed pages back to the kernel.
		debug.FreeOSMemory()
	}
}

// idleCollectAfter is when a shim that does not hibernate collects the
// garbage of a create run in it.
const idleCollectAfter = 2 * time.Second

// collectOnce collects, once, the garbage a create run in the shim left
// (the spec's decoding, the seccomp filter's compilation: some hundreds
// of KiB that a hibernating shim gives back by its exec anyway).
func (s *shim) collectOnce() {
	if !s.createdHere {
		return
	}
	s.collected.Do(debug.FreeOSMemory)
}
