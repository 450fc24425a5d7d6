package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"

	"github.com/berth-project/berth/internal/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Init is the entry point of the re-executed binary ("berth-runtime
// init"). The nsenter constructor has already placed the process in its
// namespaces. Init never returns: it execs the container's process or
// reports an error to the runtime and exits.
func Init() {
	// Credentials, capabilities and the seccomp filter are set per thread
	// and must be on the thread that calls execve.
	goruntime.LockOSThread()
	n, err := strconv.Atoi(os.Getenv(nsenter.EnvInitPipe))
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-runtime init: not started by the runtime")
		os.Exit(1)
	}
	os.Unsetenv(nsenter.EnvInitPipe)
	os.Unsetenv("GOMAXPROCS")
	var sigs *startSignals
	if os.Getenv(envAwaitsStart) != "" {
		os.Unsetenv(envAwaitsStart)
		sigs = armStartSignals()
	}
	sync := os.NewFile(uintptr(n), "sync")
	if err := runInit(sync, sigs); err != nil {
		writeFrame(sync, &syncMsg{Type: msgError, Error: err.Error()})
	}
	os.Exit(1)
}

func runInit(sync *os.File, sigs *startSignals) error {
	unix.Umask(0)
	m, err := expect(sync, msgConfig)
	if err != nil {
		return fmt.Errorf("read init config: %w", err)
	}
	cfg, err := decodeInitConfig(m.Config)
	if err != nil {
		return err
	}
	if cfg.Passed > 0 {
		if err := receivePassed(sync, cfg); err != nil {
			return err
		}
	}
	switch cfg.Mode {
	case modeCreate:
		return initContainer(sync, cfg, sigs)
	case modeExec:
		return initExec(sync, cfg)
	}
	return fmt.Errorf("unknown init mode %q", cfg.Mode)
}

func initContainer(sync *os.File, cfg *initConfig, sigs *startSignals) error {
	ctx := context.Background()
	newMountNS := cfg.NewMountNS
	r := &rootfsSetup{cfg: cfg, rootfs: cfg.Rootfs}
	if newMountNS {
		if err := r.prepare(); err != nil {
			return fmt.Errorf("prepare rootfs: %w", err)
		}
	}
	if cfg.RuntimeHooks {
		if err := writeFrame(sync, &syncMsg{Type: msgRunHooks}); err != nil {
			return err
		}
		if _, err := expect(sync, msgHooksDone); err != nil {
			return err
		}
	}
	if len(cfg.CreateContainer) > 0 {
		state := hookState(cfg.Annotations, cfg.ID, cfg.Bundle, cfg.HostPid, specs.StateCreated)
		if err := runHooks(ctx, "createContainer", cfg.CreateContainer, state); err != nil {
			return err
		}
	}
	switch {
	case !newMountNS:
		if cfg.Rootfs != "/" {
			if err := unix.Chroot(cfg.Rootfs); err != nil {
				return fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
			}
		}
	case cfg.NoPivot:
		if err := moveRoot(cfg.Rootfs); err != nil {
			return err
		}
	default:
		err := pivotRoot(cfg.Rootfs)
		if errors.Is(err, unix.EINVAL) {
			// A rootfs on the initramfs cannot be pivoted away from.
			err = moveRoot(cfg.Rootfs)
		}
		if err != nil {
			return err
		}
	}
	if r.root != nil {
		r.root.Close()
	}
	if newMountNS {
		if err := finishRootfs(cfg.RootfsPropagation, r.devRO); err != nil {
			return err
		}
	}
	if err := writeSysctls(cfg.Sysctl); err != nil {
		return err
	}
	if err := maskPaths(cfg.MaskedPaths); err != nil {
		return err
	}
	if err := readonlyPaths(cfg.ReadonlyPaths); err != nil {
		return err
	}
	if cfg.ReadonlyRoot {
		if err := remountRootReadonly(); err != nil {
			return err
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return fmt.Errorf("set domainname: %w", err)
		}
	}
	if cfg.Personality != nil {
		if err := setPersonality(cfg.Personality); err != nil {
			return err
		}
	}

	var ep *execProcess
	if p := cfg.Process; p != nil {
		if p.Terminal {
			if cfg.ConsoleFD < 0 {
				return errors.New("process.terminal is set but no console socket was given")
			}
			console := os.NewFile(uintptr(cfg.ConsoleFD), "console-socket")
			err := setupTerminal(console, p, true)
			console.Close()
			if err != nil {
				return err
			}
		} else if err := newSession(); err != nil {
			return err
		}
		var err error
		if ep, err = newExecProcess(p, cfg.Seccomp, cfg.PreserveFDs); err != nil {
			return err
		}
		ep.latePidsFD, ep.latePidsValue = cfg.LatePidsFD, cfg.LatePidsValue
		// As runc does, the working directory and the executable are
		// found at create, where a missing one is the create's error,
		// and not on the start's path; unless startContainer hooks,
		// which run at the start, may provide them.
		if len(cfg.StartContainer) == 0 {
			if err := ep.resolve(); err != nil {
				return err
			}
		}
	}
	// Where safe, the start is only the exec (earlyfinalize.go).
	early := ep != nil && !cfg.StartNow && cfg.FinalizeEarly && len(cfg.StartContainer) == 0
	if early {
		if err := ep.finalize(nil); err != nil {
			return err
		}
	}
	if err := writeFrame(sync, &syncMsg{Type: msgReady}); err != nil {
		return err
	}
	conn := sync
	if !cfg.StartNow {
		if cfg.ListenFD < 0 {
			return errors.New("no start socket")
		}
		if sigs == nil {
			sigs = armStartSignals()
		}
		listener := os.NewFile(uintptr(cfg.ListenFD), "start-listener")
		// Created. The runtime that created us may now exit; from here
		// errors go to whoever starts us.
		sync.Close()
		var err error
		if conn, err = awaitStart(listener, sigs); err != nil {
			os.Exit(1)
		}
		listener.Close()
	}
	fail := func(err error) {
		writeFrame(conn, &syncMsg{Type: msgError, Error: err.Error()})
		os.Exit(1)
	}
	if !cfg.StartNow {
		if _, err := expect(conn, msgStart); err != nil {
			fail(err)
		}
		sigs.exitIfSignalled()
	}
	if ep == nil {
		fail(errors.New("the container has no process to start (config.json has no process)"))
	}
	if len(cfg.StartContainer) > 0 {
		state := hookState(cfg.Annotations, cfg.ID, cfg.Bundle, cfg.HostPid, specs.StateCreated)
		if err := runHooks(ctx, "startContainer", cfg.StartContainer, state); err != nil {
			fail(err)
		}
		if err := ep.resolve(); err != nil {
			fail(err)
		}
	}
	if early {
		fail(ep.exec())
	}
	fail(ep.finalizeAndExec(func(listener int) error { return sendSeccompFD(conn, listener) }))
	return nil
}

// sendSeccompFD hands the seccomp notify listener to the process that
// started us, which passes it on to the agent at listenerPath.
func sendSeccompFD(conn *os.File, fd int) error {
	if err := writeFrame(conn, &syncMsg{Type: msgSeccompFD}); err != nil {
		return err
	}
	if err := unix.Sendmsg(int(conn.Fd()), []byte("seccomp"), unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send seccomp listener: %w", err)
	}
	_, err := expect(conn, msgSeccompDone)
	return err
}

func initExec(sync *os.File, cfg *initConfig) error {
	p := cfg.Process
	if p == nil {
		return errors.New("exec: no process")
	}
	if p.Terminal {
		if cfg.ConsoleFD < 0 {
			return errors.New("process.terminal is set but no console socket was given")
		}
		console := os.NewFile(uintptr(cfg.ConsoleFD), "console-socket")
		err := setupTerminal(console, p, false)
		console.Close()
		if err != nil {
			return err
		}
	} else if err := newSession(); err != nil {
		return err
	}
	ep, err := newExecProcess(p, cfg.Seccomp, cfg.PreserveFDs)
	if err != nil {
		return err
	}
	ep.latePidsFD, ep.latePidsValue = cfg.LatePidsFD, cfg.LatePidsValue
	if err := ep.resolve(); err != nil {
		return err
	}
	// On success execve closes the sync socket: the runtime reads EOF.
	return ep.finalizeAndExec(func(listener int) error { return sendSeccompFD(sync, listener) })
}

// personality flags by name (include/uapi/linux/personality.h).
var personalityFlags = table[specs.LinuxPersonalityFlag, uint64]{
	{"UNAME26", 0x0020000},
	{"ADDR_NO_RANDOMIZE", 0x0040000},
	{"FDPIC_FUNCPTRS", 0x0080000},
	{"MMAP_PAGE_ZERO", 0x0100000},
	{"ADDR_COMPAT_LAYOUT", 0x0200000},
	{"READ_IMPLIES_EXEC", 0x0400000},
	{"ADDR_LIMIT_32BIT", 0x0800000},
	{"SHORT_INODE", 0x1000000},
	{"WHOLE_SECONDS", 0x2000000},
	{"STICKY_TIMEOUTS", 0x4000000},
	{"ADDR_LIMIT_3GB", 0x8000000},
}

func setPersonality(p *specs.LinuxPersonality) error {
	var persona uint64
	if p.Domain == specs.PerLinux32 {
		persona = 0x0008
	}
	for _, f := range p.Flags {
		v, ok := personalityFlags.lookup(f)
		if !ok {
			return fmt.Errorf("personality flag %q is unknown", f)
		}
		persona |= v
	}
	if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(persona), 0, 0); e != 0 {
		return fmt.Errorf("personality %#x: %w", persona, e)
	}
	return nil
}

// newSession puts a process without a terminal in a session and process
// group of its own, as runc does (setupTerminal does it for one with a
// terminal). Otherwise it stays in its starter's, the shim's, and a
// shell's kill 0 inside the container would reach the shim and end the
// container from outside.
func newSession() error {
	if _, err := unix.Setsid(); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("setsid: %w", err)
	}
	return nil
}
