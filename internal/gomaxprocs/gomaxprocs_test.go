package gomaxprocs

import (
	"sync"
	"testing"
)

func TestNarrowFor(t *testing.T) {
	for cpus, want := range map[int]int{0: 1, 1: 1, 2: 1, 4: 1, 8: 2, 64: 16} {
		if got := narrowFor(cpus); got != want {
			t.Errorf("narrowFor(%d) = %d, want %d", cpus, got, want)
		}
	}
}

// TestWidenNests: the width is wide while any widening is held, narrow
// again after the last release, and a release twice counts once.
func TestWidenNests(t *testing.T) {
	var mu sync.Mutex
	var calls []int
	cur := 0
	set := func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		old := cur
		cur = n
		calls = append(calls, n)
		return old
	}
	get := func() int { mu.Lock(); defer mu.Unlock(); return cur }

	w := newWidth(8, set)
	if get() != 2 {
		t.Fatalf("after newWidth(8): GOMAXPROCS %d, want 2", get())
	}
	r1 := w.Widen()
	r2 := w.Widen()
	if get() != 8 {
		t.Fatalf("widened twice: GOMAXPROCS %d, want 8", get())
	}
	r1()
	r1()
	if get() != 8 {
		t.Fatalf("one of two released (twice): GOMAXPROCS %d, want 8", get())
	}
	r2()
	if get() != 2 {
		t.Fatalf("all released: GOMAXPROCS %d, want 2", get())
	}
	if want := []int{2, 8, 2}; len(calls) != len(want) {
		t.Errorf("GOMAXPROCS set %v, want %v (no change while already wide)", calls, want)
	}

	// Concurrent widenings end narrow.
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Widen()()
		}()
	}
	wg.Wait()
	if get() != 2 {
		t.Errorf("after concurrent widenings: GOMAXPROCS %d, want 2", get())
	}
}

// TestOneCPU: a host the narrow width already covers is never changed.
func TestOneCPU(t *testing.T) {
	n := 0
	w := newWidth(1, func(int) int { n++; return 1 })
	w.Widen()()
	if n != 1 {
		t.Errorf("GOMAXPROCS set %d times on a 1-CPU host, want once (the start)", n)
	}
}

func TestNilWidth(t *testing.T) {
	var w *Width
	w.Widen()() // must not panic
}

// TestUserChoice: a GOMAXPROCS in the environment is left alone.
func TestUserChoice(t *testing.T) {
	t.Setenv("GOMAXPROCS", "3")
	if w := Narrow(8); w != nil {
		t.Errorf("Narrow with GOMAXPROCS set = %+v, want nil", w)
	}
}
