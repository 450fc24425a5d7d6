package shim

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"syscall"

	"golang.org/x/sys/unix"
)

// readyFD is the descriptor of the readiness pipe in the shim processes.
const readyFD = 3

// Main is berth-shim's main. Start runs `berth-shim serve DIR` in a new
// session as the daemon's sibling, or `berth-shim start DIR`, a launcher
// that forks the shim and exits (see launch); either way the readiness
// pipe is fd 3. The shim reports on it once the container is created and
// the socket serves, then supervises the container until it is deleted.
//
// A pooled shim (`berth-shim pool RUNTIME ROOT [CGROUP-PARENT]`, or its
// launcher `berth-shim start-pool ...`) is started before its container
// is known: fd 3 is then a unix socket on which the daemon later writes
// the state directory (see Pool), and the shim carries on as `serve`.
func Main(args []string) int {
	switch {
	case len(args) == 3 && args[1] == "start":
		return detach("serve", args[2])
	case len(args) == 3 && args[1] == "serve":
		return serve(args[2], nil, nil, nil, false)
	case len(args) == 3 && args[1] == "resume":
		return resume(args[2])
	case (len(args) == 4 || len(args) == 5) && args[1] == "start-pool":
		return detach("pool", args[2:]...)
	case (len(args) == 4 || len(args) == 5) && args[1] == "pool":
		return pooled(args[2], args[3:]...)
	}
	fmt.Fprintln(os.Stderr, "usage: berth-shim start|serve STATE-DIR, or start-pool|pool RUNTIME ROOT [CGROUP-PARENT] (the daemon runs it)")
	return 2
}

func detach(mode string, args ...string) int {
	self, err := os.Executable()
	if err == nil {
		// A session of its own, as the shim cloned without a launcher
		// has: its scheduling group is then its own (priority_linux.go).
		_, err = syscall.ForkExec(self, append([]string{"berth-shim", mode}, args...), &syscall.ProcAttr{
			Env:   os.Environ(),
			Files: []uintptr{0, 1, 2, readyFD},
			Sys:   &syscall.SysProcAttr{Setsid: true},
		})
	}
	if err != nil {
		reportReady(ready{Error: fmt.Sprintf("start shim: %v", err)})
		return 1
	}
	return 0
}

// initProcess sets up what every shim process needs before anything
// else.
func initProcess() error {
	// Nothing the shim starts may inherit the readiness pipe: the daemon
	// reads it to EOF.
	unix.CloseOnExec(readyFD)
	// No automatic collection: a collection's own bookkeeping (mark bits,
	// work buffers) costs an idle shim more than the garbage it frees, and
	// an idle shim makes none. Collections run when a burst of calls left
	// garbage (callDone) and, as a safety net, near memoryLimit.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(memoryLimit)
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	return os.Chdir("/")
}

// serve supervises the container of dir. A pooled shim passes its reaper,
// /dev/null and warm runtime; others pass nils.
func serve(dir string, r *reaper, devnull *os.File, warm *warmRuntime, background bool) int {
	if r == nil {
		if err := initProcess(); err != nil {
			reportReady(ready{Error: err.Error()})
			return 1
		}
	}
	// Creating the container and reporting (JSON, the runtime command, the
	// stdio) run deep call chains on a goroutine that then exits: the main
	// goroutine, which waits in Accept for the shim's whole life, keeps its
	// small stack (a stack never shrinks without a collection). 16 KiB less
	// per idle shim (TestIdleShimMemory).
	var s *shim
	created := make(chan struct{})
	go func() {
		defer close(created)
		var err error
		if s, err = newShim(dir, r, devnull, warm, background); err != nil {
			r := errorResponse(err)
			reportReady(ready{Error: r.Error, Class: r.Class})
			return
		}
		reportReady(ready{Pid: os.Getpid(), InitPid: s.init.pid})
	}()
	<-created
	if s == nil {
		return 1
	}
	// A deleted container's shim exits from its Delete handler.
	s.serve()
	return 0
}

func reportReady(r ready) {
	f := os.NewFile(readyFD, "ready")
	defer f.Close()
	if err := json.NewEncoder(f).Encode(&r); err != nil {
		slog.Error("reporting readiness", "err", err)
	}
}
