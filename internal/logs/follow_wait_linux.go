package logs

import (
	"context"
	"time"
)

// followWait is what a follower waits on between rounds, for both
// drivers: a write (the directory watch), the end of the writer (Done:
// one more round then reads what it flushed) and Until (past it nothing
// new can qualify: stop, as docker does, without waiting for an entry to
// prove it).
type followWait struct {
	done      <-chan struct{}
	untilC    <-chan time.Time
	timer     *time.Timer
	finishing bool
}

func newFollowWait(done <-chan struct{}, until time.Time) *followWait {
	f := &followWait{done: done}
	if !until.IsZero() {
		f.timer = time.NewTimer(time.Until(until))
		f.untilC = f.timer.C
	}
	return f
}

func (f *followWait) stop() {
	if f.timer != nil {
		f.timer.Stop()
	}
}

// next waits for the next round; false means the following is over.
func (f *followWait) next(ctx context.Context, wake <-chan struct{}) bool {
	if f.finishing {
		return false
	}
	select {
	case <-wake:
	case <-ctx.Done():
		return false
	case <-f.done:
		f.finishing, f.done = true, nil
	case <-f.untilC:
		f.finishing, f.untilC = true, nil
	}
	return true
}
