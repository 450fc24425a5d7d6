package shim

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime"
)

// warmRuntime is Berth's runtime run inside a pooled shim, before the shim
// knows its container: the runtime's state root is open, encoding/json's
// decoders for the spec are built (Prewarm), and, given a cgroup parent,
// a spare init waits (StartSpare). The container's create then runs here,
// in the shim, instead of in a `berth-runtime create` process: a Go
// process's start, page faults and exit (a millisecond and a half of CPU)
// less per container. The init is still started from berth-runtime's
// binary (runtime.SetBinary), whose nsenter constructor it needs; the
// shim's reaper waits for the runtime's children (runtime.SetChildWaiter),
// so that the two never race for a status.
type warmRuntime struct {
	path, root string
	rt         *runtime.Runtime
	// spare is closed once the spare init's start returned; nil when
	// there is none.
	spare chan struct{}
}

// startWarm prepares the runtime at path for args: its state root and,
// optionally, the cgroup parent of its spare init. path must be the
// runtime's executable itself: a script around it (a wrapper that logs,
// say) cannot be the init's binary, and is run as a command instead.
func startWarm(r *reaper, path string, args ...string) (*warmRuntime, error) {
	if !isELF(path) {
		return nil, fmt.Errorf("%s is not an executable the init can start from", path)
	}
	runtime.SetBinary(path)
	runtime.SetChildWaiter(func(pid int) (unix.WaitStatus, error) {
		ws, ok := r.wait(pid, r.adopt(pid))
		if !ok {
			return 0, unix.ECHILD
		}
		return ws, nil
	})
	rt, err := runtime.New(args[0], nil)
	if err != nil {
		return nil, err
	}
	w := &warmRuntime{path: path, root: args[0], rt: rt}
	go rt.Prewarm()
	if len(args) > 1 {
		w.spare = make(chan struct{})
		go func() {
			defer close(w.spare)
			// Without a spare the create makes its init itself.
			_ = rt.StartSpare(args[1])
		}()
	}
	return w, nil
}

// serves tells whether the warm runtime can run cfg's commands: the same
// binary and state root, and no extra global flags.
func (w *warmRuntime) serves(cfg *Config) bool {
	return w != nil && cfg.Runtime == w.path && cfg.RuntimeRoot == w.root && len(cfg.RuntimeArgs) == 0
}

// create runs the runtime's create for container id. A client that waits
// for it returns the spare's cgroup to normal CPU priority now; one made
// ahead keeps it idle until the shim is hurried (shim.foreground).
func (w *warmRuntime) create(id, bundle string, o runtime.CreateOpts) error {
	if !runtime.InBackground() {
		_ = runtime.LeaveIdle()
	}
	if w.spare != nil {
		// The spare's start and the create must not spawn at once: under
		// load an init's ForkExec then failed with EACCES, one start in a
		// few hundred (cause unknown).
		<-w.spare
	}
	_, err := w.rt.Create(context.Background(), id, bundle, o)
	runtime.DropSpare() // unless the create took it
	return err
}

// abort gives up a warm runtime create will not use: its spare init ends.
func (w *warmRuntime) abort() {
	if w == nil {
		return
	}
	if w.spare != nil {
		<-w.spare
	}
	runtime.DropSpare()
}

// isELF reports whether path is an ELF executable.
func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "\x7fELF"
}
