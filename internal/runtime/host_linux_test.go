package runtime

import (
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime/nsenter"
)

// TestHostedSpawn: a host that runs the runtime in itself names the init's
// binary (SetBinary) and reaps the runtime's children (SetChildWaiter);
// a stage that exits without speaking the protocol (here /bin/true, in
// place of berth-runtime) makes spawn fail at once, not wait for ever,
// and the stage is reaped through the host's waiter.
func TestHostedSpawn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (an overlay mount of the binary's directory)")
	}
	oldBinary, oldWait := initBinary, waitChild
	defer func() {
		initBinary, waitChild = oldBinary, oldWait
		selfOnce, selfFile, selfErr = sync.Once{}, nil, nil
	}()
	selfOnce, selfFile, selfErr = sync.Once{}, nil, nil
	SetBinary("/bin/true")
	var waited []int
	SetChildWaiter(func(pid int) (unix.WaitStatus, error) {
		waited = append(waited, pid)
		return oldWait(pid)
	})
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	done := make(chan error, 1)
	go func() {
		_, err := spawn(spawnRequest{stdin: null, stdout: null, stderr: null, spareDir: t.TempDir(),
			bootstrap: nsenter.Bootstrap{}})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("spawn of a stage that exits at once succeeded")
		}
		t.Logf("spawn: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("spawn still waits for a stage that has exited")
	}
	if len(waited) == 0 {
		t.Error("the stage was not reaped through the host's waiter")
	}
}
