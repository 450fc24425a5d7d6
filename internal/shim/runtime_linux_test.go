package shim

import (
	"os"
	"sync"
	"testing"
)

// TestConcurrentRuntimeCommands: a shim serves its calls at once (kill,
// exec, pause, update...), each running a runtime command. Starting one
// must not write state another reads: under -race this found startRuntime
// clearing the warm runtime field on every call.
func TestConcurrentRuntimeCommands(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	s := &shim{cfg: &Config{StateDir: t.TempDir(), Runtime: "/bin/true"}, reaper: newReaper(), devnull: devnull}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.run(runIO{}, "state", "x"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
