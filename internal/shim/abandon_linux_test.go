package shim_test

import (
	"strconv"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/shim"
)

// TestAbandon: a shim whose ready report its caller lost (a read error
// after the container was created) is ended with its container, rather
// than left serving a container nobody knows of.
func TestAbandon(t *testing.T) {
	r := runtimes(t)[0]
	c := newContainer(t, r, "sleep", "1000")
	cl := c.create()
	st, err := cl.State(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	pid := shimPid(t, c)
	shim.Abandon(c.cfg.StateDir)
	gone := func(pid int) func() bool {
		return func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH }
	}
	waitFor(t, "the abandoned shim "+strconv.Itoa(pid)+" to exit", gone(pid))
	waitFor(t, "its container's init "+strconv.Itoa(st.Pid)+" to exit", gone(st.Pid))
}
