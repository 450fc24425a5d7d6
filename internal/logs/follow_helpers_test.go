package logs

import (
	"context"
	"testing"
)

// follower drives a following Read in tests: next takes its next line
// (failing at ctx's end or an early end), finish closes done and takes
// what it still sends, reporting its errors.
type follower struct {
	t    *testing.T
	ctx  context.Context
	msgs <-chan Message
	errs <-chan error
	done chan struct{}
	got  []string
}

func (f *follower) next() string {
	f.t.Helper()
	select {
	case m, ok := <-f.msgs:
		if !ok {
			f.t.Fatalf("follower ended early: %v", <-f.errs)
		}
		f.got = append(f.got, string(m.Line))
		return string(m.Line)
	case <-f.ctx.Done():
		f.t.Fatalf("no entry within the timeout; got %d", len(f.got))
	}
	return ""
}

func (f *follower) finish() []string {
	f.t.Helper()
	close(f.done)
	for m := range f.msgs {
		f.got = append(f.got, string(m.Line))
	}
	for err := range f.errs {
		f.t.Error(err)
	}
	return f.got
}
