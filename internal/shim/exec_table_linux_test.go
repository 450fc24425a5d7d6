package shim

import (
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExecSmallTable: a process whose descriptor table grew to 1024
// slots (a descriptor at 1000, closed since) execs a program that
// starts with the smallest table, 64 slots.
func TestExecSmallTable(t *testing.T) {
	if os.Getenv("BERTH_TEST_EXEC_TABLE") == "1" {
		// Whatever the test's starter leaked goes (Go's own
		// descriptors are the first few).
		unix.CloseRange(100, math.MaxUint32, 0)
		fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 1000)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		t.Fatal(execSmallTable("/bin/grep", []string{"grep", "FDSize", "/proc/self/status"}, os.Environ()))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExecSmallTable$")
	cmd.Env = append(os.Environ(), "BERTH_TEST_EXEC_TABLE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.Join(strings.Fields(string(out)), " "); got != "FDSize: 64" {
		t.Errorf("after the exec: %q, want FDSize: 64", got)
	}
}
