// Package gomaxprocs sets how many CPUs a daemon's own Go code may run on at
// once (GOMAXPROCS): few while it serves small requests, every one while
// CPU-bound work (a pull's decompression, a save's tar) runs.
//
// A container start costs the daemon little CPU of its own next to what
// the client, the shim, the runtime, the container's init and the kernel
// spend on it, and most of the daemon's part is system calls, which do not
// hold a P. A second P there mostly buys spinning threads: each goroutine
// that becomes runnable wakes a thread to look for work, which takes the
// CPU the client or a container is about to run on. On a 2-CPU host, one P
// made back-to-back `docker run --rm` 0.5-0.8 ms faster (bench/README.md,
// session 16).
package gomaxprocs

import (
	"os"
	"runtime"
	"sync"
)

// Width is the daemon's GOMAXPROCS: narrow unless widened. A nil *Width
// (the user chose GOMAXPROCS) leaves it alone.
type Width struct {
	mu     sync.Mutex
	narrow int
	wide   int
	busy   int // widenings not yet released
	set    func(int) int
}

// Narrow sets GOMAXPROCS to the narrow width for a host with cpus CPUs and
// returns the Width that widens it. It returns nil, and changes nothing,
// when the environment sets GOMAXPROCS: the user's choice stands.
func Narrow(cpus int) *Width {
	if os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	return newWidth(cpus, runtime.GOMAXPROCS)
}

func newWidth(cpus int, set func(int) int) *Width {
	w := &Width{narrow: narrowFor(cpus), wide: max(cpus, 1), set: set}
	w.set(w.narrow)
	return w
}

// narrowFor is one P per four CPUs, at least one.
func narrowFor(cpus int) int {
	return max(cpus/4, 1)
}

// Widen lets the daemon's Go code run on every CPU until release is
// called. Widenings nest: the width goes back to narrow when the last one
// is released. release may be called more than once.
func (w *Width) Widen() (release func()) {
	if w == nil {
		return func() {}
	}
	w.mu.Lock()
	w.busy++
	if w.busy == 1 && w.wide != w.narrow {
		w.set(w.wide)
	}
	w.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			w.busy--
			if w.busy == 0 && w.wide != w.narrow {
				w.set(w.narrow)
			}
			w.mu.Unlock()
		})
	}
}
