package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOpts are exec's options besides the process.
type ExecOpts struct {
	ConsoleSocket string
	// Console is an already connected console socket, used instead of
	// ConsoleSocket (the CLI's own terminal handling).
	Console     *os.File
	PidFile     string
	PreserveFDs int
	// IgnorePaused lets a process join a paused (frozen) container.
	IgnorePaused bool
	Stdin        *os.File
	Stdout       *os.File
	Stderr       *os.File
}

// joinOrder lists the namespaces an exec'd process joins.
var joinOrder = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.PIDNamespace, specs.CgroupNamespace, specs.TimeNamespace, specs.MountNamespace,
}

// Exec starts p inside the running container and returns its pid once it
// has been exec'd. The process is the caller's child.
func (c *Container) Exec(ctx context.Context, p *specs.Process, o ExecOpts) (int, error) {
	if !o.IgnorePaused {
		// The container's lock until the process has exec'd: a pause
		// cannot freeze it half-way (this command would wait for the
		// frozen child forever), and an exec that comes during a
		// pause finds the container paused.
		lock, err := lockDir(c.dir)
		if err != nil {
			return 0, err
		}
		defer lock.unlock()
	}
	switch s := c.Status(); s {
	case specs.StateRunning, specs.StateCreated:
	case StatePaused:
		if !o.IgnorePaused {
			return 0, fmt.Errorf("container %s is paused: %w", c.st.ID, errdefs.ErrConflict)
		}
	default:
		return 0, fmt.Errorf("container %s is %s: %w", c.st.ID, s, errdefs.ErrConflict)
	}
	if err := validateProcess(p); err != nil {
		return 0, err
	}
	spec, err := c.Spec()
	if err != nil {
		return 0, err
	}
	filter, err := compileSeccomp(c.rt.root, spec)
	if err != nil {
		return 0, err
	}
	bs, err := c.joinBootstrap()
	if err != nil {
		return 0, err
	}
	console := o.Console
	if p.Terminal && console == nil {
		if o.ConsoleSocket == "" {
			return 0, fmt.Errorf("process.terminal is set: a console socket is required: %w", errdefs.ErrInvalidParameter)
		}
		if console, err = dialUnix(o.ConsoleSocket); err != nil {
			return 0, fmt.Errorf("console socket %s: %w", o.ConsoleSocket, err)
		}
		defer console.Close()
	}
	req := spawnRequest{
		bootstrap: bs, cgroup: c.cgroup(), stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr,
		preserveFDs: o.PreserveFDs, oomScoreAdj: p.OOMScoreAdj,
		spareDir: filepath.Join(c.rt.root, spareDirName),
	}
	if p.Terminal {
		req.console = console
	}
	if p.ExecCPUAffinity != nil {
		req.initialCPUs = p.ExecCPUAffinity.Initial
	}
	defaultStdio(&req)
	sp, err := spawn(req)
	if err != nil {
		return 0, err
	}
	defer sp.sync.Close()
	cfg := &initConfig{
		Mode: modeExec, ID: c.st.ID, Bundle: c.st.Bundle, Rootfs: c.st.Rootfs,
		Process: p, HostPid: sp.pid, ConsoleFD: sp.consoleFD, ListenFD: -1, PreserveFDs: o.PreserveFDs,
		LatePidsFD: -1, Seccomp: filter,
	}
	fail := func(err error) (int, error) {
		unix.Kill(sp.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(sp.pid, &ws, 0, nil)
		return 0, err
	}
	if err := writeFrame(sp.sync, &syncMsg{Type: msgConfig, Config: cfg.encode()}); err != nil {
		return fail(fmt.Errorf("send exec config: %w", err))
	}
	if err := c.awaitExec(sp.sync); err != nil {
		return fail(err)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, sp.pid); err != nil {
			return sp.pid, err
		}
	}
	return sp.pid, nil
}

// joinBootstrap lists the init's namespaces that differ from ours.
func (c *Container) joinBootstrap() (nsenter.Bootstrap, error) {
	var b nsenter.Bootstrap
	base := "/proc/" + strconv.Itoa(c.st.InitPid) + "/ns/"
	for _, t := range joinOrder {
		name := nsProcName.get(t)
		var theirs, ours unix.Stat_t
		if err := unix.Stat(base+name, &theirs); err != nil {
			if t == specs.TimeNamespace || t == specs.CgroupNamespace {
				continue // kernels without them
			}
			return b, fmt.Errorf("container %s: namespace %s: %w", c.st.ID, name, err)
		}
		if err := unix.Stat("/proc/self/ns/"+name, &ours); err == nil && ours.Ino == theirs.Ino && ours.Dev == theirs.Dev {
			continue
		}
		b.Join = append(b.Join, nsenter.NamespacePath{Type: namespaceFlags.get(t), Path: base + name})
	}
	// The init must still be the process we recorded, or we would join a
	// stranger's namespaces.
	if !processAlive(c.st.InitPid, c.st.InitStartTime) {
		return b, fmt.Errorf("container %s has stopped: %w", c.st.ID, errdefs.ErrConflict)
	}
	return b, nil
}
