// Package vm runs the tests that need a machine of their own: a Debian
// kernel booted in QEMU on a pure cgroup v2 hierarchy, which neither a
// hybrid host nor a container can give. scripts/vmtest.sh does the work;
// test/vm/README.md describes it.
package vm

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
)

// vmTimeout bounds the VM itself (scripts/vmtest.sh --timeout). Without KVM
// the guest is emulated (TCG): the whole run takes about a minute on our
// 2-core CI machines, and this leaves room for a loaded one.
const vmTimeout = 8 * time.Minute

// TestCgroupV2InVM builds the cgroups package's tests, the runtime and its
// cgroup v2 smoke tests (integration/vm/guest) as static binaries, boots
// them in a VM on a pure cgroup v2 hierarchy, and fails unless every one of
// them passes there. The VM's console streams into the test log.
//
// It needs root (to install QEMU when missing and to build the initramfs),
// and on first use fetches Debian's kernel package with apt into
// ~/.cache/berth/vm.
func TestCgroupV2InVM(t *testing.T) {
	testenv.RequireRoot(t)
	root := testenv.RepoRoot(t)

	// The script's own timeout fires first; this context only catches a
	// hang outside QEMU (a build, apt) before go test's panic would.
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-20*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "vmtest.sh"),
		"--timeout", strconv.Itoa(int(vmTimeout.Seconds())))
	cmd.Dir = root
	// Its own process group, so that cancelling kills QEMU and the builds
	// too (the script keeps QEMU in its group).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		t.Log(lines.Text())
	}
	if err := lines.Err(); err != nil {
		// Keep draining, or the script would block on a full pipe.
		t.Errorf("reading the VM's output: %v", err)
		_, _ = io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("scripts/vmtest.sh did not finish before the test deadline: %v", err)
		}
		t.Fatalf("scripts/vmtest.sh: %v (the summary above names the failed tests)", err)
	}
}
