package main

import (
	"net"
	"time"
)

// trimAfter is how long the API must be quiet before the heap is trimmed.
const trimAfter = time.Second

// idleTrim returns the daemon's free heap to the kernel once the API has
// been quiet for trimAfter after some activity. Go's collector lets the
// heap grow to twice what is live, and its scavenger keeps about that
// much: after a burst of starts (a thousand containers, say) the daemon
// would hold some tens of KiB per container that no container uses. One
// collection once the burst is over costs a few milliseconds of CPU;
// while requests keep coming (back-to-back runs), it never runs.
type idleTrim struct {
	t     *time.Timer
	after time.Duration
}

func newIdleTrim(after time.Duration, trim func()) *idleTrim {
	t := time.AfterFunc(time.Hour, trim)
	t.Stop()
	return &idleTrim{t: t, after: after}
}

// listener counts l's connections as activity.
func (i *idleTrim) listener(l net.Listener) net.Listener { return &trimListener{Listener: l, trim: i} }

type trimListener struct {
	net.Listener
	trim *idleTrim
}

func (l *trimListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.trim.t.Reset(l.trim.after)
	}
	return c, err
}
