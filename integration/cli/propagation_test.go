package cli_test

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testenv"
)

// TestBindPropagationSource: a shared bind needs its source on a shared
// mount, a slave bind on a shared or slave one; otherwise dockerd refuses
// the start ("path X is mounted on M but it is not a shared mount")
// rather than run a container whose propagation never happens. The
// source here is a tmpfs of the test's own, private first, then shared.
func TestBindPropagationSource(t *testing.T) {
	testenv.RequireRoot(t)
	e := startEngine(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients() {
		t.Run(c.name, func(t *testing.T) {
			c := c.resolve(t)
			for _, tc := range []struct{ prop, want string }{
				{"rshared", "path " + dir + " is mounted on " + dir + " but it is not a shared mount"},
				{"slave", "path " + dir + " is mounted on " + dir + " but it is not a shared or slave mount"},
			} {
				r := e.run(t, c, nil, "run", "--rm", "--mount", "type=bind,src="+dir+",dst=/b,bind-propagation="+tc.prop, "busybox", "true")
				if r.exit == 0 || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("%s on a private mount: want a failure saying %q, got\n%s", tc.prop, tc.want, r)
				}
			}
		})
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients() {
		t.Run(c.name+"/shared", func(t *testing.T) {
			c := c.resolve(t)
			for _, prop := range []string{"rshared", "rslave"} {
				r := e.run(t, c, nil, "run", "--rm", "--mount", "type=bind,src="+dir+",dst=/b,bind-propagation="+prop, "busybox", "true")
				if r.exit != 0 {
					t.Errorf("%s on a shared mount:\n%s", prop, r)
				}
			}
		})
	}
}
