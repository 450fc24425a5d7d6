package shim_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// fdLinks lists what pid's descriptors point at.
func fdLinks(t *testing.T, pid int) []string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			links = append(links, l)
		}
	}
	return links
}

// TestInitHeld: the shim holds the init's executable (the runtime's
// binary, before the container's process replaces it) until the start is
// answered, so that the exec does not tear it down, and the init's mount
// namespace while the container runs, so that the exit does not, and lets
// that go once the exit is answered.
func TestInitHeld(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sleep", "1000")
			cl := c.create()
			st, err := cl.State(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			exe, err := os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/exe")
			if err != nil {
				t.Fatal(err)
			}
			shim := shimPid(t, c)
			if !slices.Contains(fdLinks(t, shim), exe) {
				t.Fatalf("the shim of a created container holds no descriptor of the init's executable %s: %v", exe, fdLinks(t, shim))
			}
			pid, err := cl.Start(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the shim to let the executable go after the start", func() bool { return !slices.Contains(fdLinks(t, shim), exe) })
			ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(fdLinks(t, shim), ns) {
				t.Fatalf("the shim holds no descriptor of the container's mount namespace %s", ns)
			}
			if err := cl.Kill(ctx(t), syscall.SIGKILL, false); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Wait(ctx(t)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the shim to let the mount namespace go", func() bool { return !slices.Contains(fdLinks(t, shim), ns) })
		})
	}
}
