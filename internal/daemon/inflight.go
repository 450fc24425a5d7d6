package daemon

import "sync"

// inflight counts background work that callers may wait for while more
// of it starts. A sync.WaitGroup forbids that: an Add while a Wait is
// returning panics ("WaitGroup is reused before previous Wait has
// returned"), and here an image removal waits for the spares while a
// start refills them.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero; nil while nobody waits
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
	f.mu.Unlock()
}

// wait returns once the count has been zero at least once since it was
// called.
func (f *inflight) wait() {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	ch := f.idle
	f.mu.Unlock()
	<-ch
}
