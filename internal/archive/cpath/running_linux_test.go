package cpath

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/testenv"
)

// TestRunningContainerRoot: the root a daemon passes for a running
// container, /proc/PID/root of a process in its own mount namespace and
// chroot, shows the mounts made in there (a volume, a read-only volume,
// proc) and nothing of them reaches the host's view of the same rootfs.
func TestRunningContainerRoot(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("this test needs util-linux's unshare: %v", err)
	}
	rootfs := testenv.BusyboxRootfs(t)
	for _, d := range []string{"vol", "ro"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "vol/hidden"), []byte("under the mount"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "mount -t tmpfs tmpfs /vol && echo volume-data > /vol/data && " +
		"mount -t tmpfs -o ro tmpfs /ro && mount -t proc proc /proc && echo ready && exec sleep 600"
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "chroot", rootfs, "/bin/sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("the container did not start: %q %v", line, err)
	}
	// unshare and chroot exec in place: the pid is the container's.
	root := fmt.Sprintf("/proc/%d/root", cmd.Process.Pid)

	if st, err := Stat(t.Context(), root, "/vol/data"); err != nil || st.Size != int64(len("volume-data\n")) {
		t.Errorf("Stat(/vol/data) in the running container: %+v %v", st, err)
	}
	if _, err := Stat(t.Context(), root, "/vol/hidden"); !errdefs.IsNotFound(err) {
		t.Errorf("the file under the volume's mountpoint is visible: %v", err)
	}
	es, _ := mustArchive(t, root, "/vol/.", ArchiveOptions{})
	if got := names(es); !slices.Equal(got, []string{"./", "./data"}) {
		t.Errorf("Archive(/vol/.) = %v", got)
	}
	if _, err := Stat(t.Context(), root, "/proc/self/"); !errdefs.IsNotFound(err) {
		t.Errorf("Stat(/proc/self/) in the running container: %v", err)
	}
	if err := extract(t, root, "/vol", tarOf(t, reg("copied")), ExtractOptions{}); err != nil {
		t.Errorf("Extract into the volume: %v", err)
	}
	if _, err := Stat(t.Context(), root, "/vol/copied"); err != nil {
		t.Errorf("the copied file is not in the volume: %v", err)
	}
	if exists(filepath.Join(rootfs, "vol/copied")) || exists(filepath.Join(rootfs, "vol/data")) {
		t.Error("the container's volume leaked into the host's mount namespace")
	}
	if err := extract(t, root, "/ro", tarOf(t, reg("x")), ExtractOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Extract into the read-only volume: %v", err)
	}
	if o, err := LookupOwner(t.Context(), root, testenv.TestUser); err != nil || o.UID != testenv.TestUID || o.GID != testenv.TestGID {
		t.Errorf("LookupOwner(%s): %+v %v", testenv.TestUser, o, err)
	}
}
