// Package servertest has Fake, an in-memory engine (a server.Backend) for
// tests of the API server and of API clients: the real server over a Fake
// on httptest behaves like a tiny daemon, without root or containers.
//
// A fake container "runs" its Cmd as a toy program:
//
//	echo ARGS...    prints ARGS to stdout, exits 0
//	stderr ARGS...  prints ARGS to stderr, exits 0
//	exit N          exits with code N
//	cat             copies the attached stdin to stdout until it ends
//	anything else   runs until stopped or killed (exit 137, or 143 for TERM)
//
// Execs run the same programs. Every call is recorded (Calls, Last), and
// any method can be made to fail (SetError) or panic (SetPanic).
package servertest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// Call is one recorded backend call: the method, the name or reference it
// was about, and its options (the request the server decoded).
type Call struct {
	Method string
	Name   string
	Opts   any
}

// Fake is an in-memory server.Backend. The zero value is not usable; call
// New.
type Fake struct {
	mu         sync.Mutex
	calls      []Call
	errs       map[string]error
	panics     map[string]bool
	containers map[string]*fakeContainer
	execs      map[string]*fakeExec
	images     map[string]*fakeImage
	networks   map[string]*fakeNetwork // by id; nil until first used
	volumes    map[string]*fakeVolume  // by name; nil until first used
	trees      map[string]*fakeTree    // container filesystems by id; nil until first used
	events     []eventRecord
	eventsCh   chan struct{}
	attaching  int
}

var _ server.Backend = (*Fake)(nil)

// New returns an empty fake engine holding one image, "busybox:latest".
func New() *Fake {
	f := &Fake{
		errs:       map[string]error{},
		panics:     map[string]bool{},
		containers: map[string]*fakeContainer{},
		execs:      map[string]*fakeExec{},
		images:     map[string]*fakeImage{},
		eventsCh:   make(chan struct{}),
	}
	f.addImage("busybox:latest", 4<<20)
	return f
}

// SetError makes method (a Backend method name, "ContainerStart") return
// err from now on; nil clears it.
func (f *Fake) SetError(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, method)
		return
	}
	f.errs[method] = err
}

// SetPanic makes method panic from now on (to test recovery).
func (f *Fake) SetPanic(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.panics[method] = true
}

// Calls returns every call so far, oldest first.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Last returns the latest call of method.
func (f *Fake) Last(method string) (Call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Method == method {
			return f.calls[i], true
		}
	}
	return Call{}, false
}

// enter records a call and applies the injected failure, if any. It is
// called with f.mu not held.
func (f *Fake) enter(method, name string, opts any) error {
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: method, Name: name, Opts: opts})
	err, p := f.errs[method], f.panics[method]
	f.mu.Unlock()
	if p {
		panic("servertest: injected panic in " + method)
	}
	return err
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// findContainer resolves a name, full ID or unique ID prefix, as docker
// does. f.mu must be held.
func (f *Fake) findContainer(ref string) (*fakeContainer, error) {
	name := strings.TrimPrefix(ref, "/")
	if c, ok := f.containers[name]; ok {
		return c, nil
	}
	var found *fakeContainer
	for _, c := range f.containers {
		if c.name == name {
			return c, nil
		}
		if name != "" && strings.HasPrefix(c.id, name) {
			if found != nil {
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "multiple IDs found with provided prefix: %s", ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "No such container: %s", ref)
	}
	return found, nil
}

func notRunning(c *fakeContainer) error {
	return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.id)
}
