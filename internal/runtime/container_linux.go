package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/runtime/cgroups"
	"github.com/berth-project/berth/internal/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Status values beyond the spec's four.
const StatePaused specs.ContainerState = "paused"

// Runtime manages the containers whose state lives under one root.
type Runtime struct {
	root string
	log  *slog.Logger
}

// New opens (and creates) the state root.
func New(root string, log *slog.Logger) (*Runtime, error) {
	if root == "" {
		return nil, fmt.Errorf("state root is empty: %w", errdefs.ErrInvalidParameter)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, spareDirName), 0o700); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", abs, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{root: abs, log: log}, nil
}

// spareDirName is an empty directory under the root, the second lower layer
// of the read-only overlay the init runs from (exe_linux.go).
const spareDirName = ".exe-lower"

// Container is one container's state directory and what it records.
type Container struct {
	rt       *Runtime
	dir      string
	st       *savedState
	spec     *specs.Spec // st.Config decoded, once needed (specview.go)
	specView *specView
}

// CreateOpts are create's options besides the id and bundle.
type CreateOpts struct {
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master when process.terminal is set.
	ConsoleSocket string
	// Console is an already connected console socket, used instead of
	// ConsoleSocket (the CLI's own terminal handling).
	Console *os.File
	// PidFile receives the init's pid once created.
	PidFile string
	// NoPivot uses MS_MOVE and chroot instead of pivot_root.
	NoPivot bool
	// PreserveFDs passes the runtime's fds 3..3+n-1 to the process.
	PreserveFDs int
	// StartNow starts the process as soon as the container is created, as
	// run does: no start socket, no second handshake. Create then returns
	// once the process runs (and the poststart hooks have).
	StartNow bool
	// Stdio of the container's process; nil means the runtime's own.
	Stdin, Stdout, Stderr *os.File
	// Spec, when set, is the bundle's config.json already read by the
	// caller; otherwise Create reads it.
	Spec *specs.Spec
}

func (rt *Runtime) dir(id string) string { return filepath.Join(rt.root, id) }

// Create builds the container from bundle and leaves its init waiting for
// Start. On error nothing is left behind: no process, cgroup or state.
func (rt *Runtime) Create(ctx context.Context, id, bundle string, o CreateOpts) (_ *Container, retErr error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	// What needs nothing from the spec starts now, beside its decoding (a
	// cold process's millisecond): the protected view of this binary and
	// the host's cgroup layout, both cached for the process.
	spareDir := filepath.Join(rt.root, spareDirName)
	go protectedSelf(spareDir)
	go cgroups.DetectLayout()
	spec, config := o.Spec, []byte(nil)
	if spec == nil {
		if config, spec, err = loadSpec(bundle); err != nil {
			return nil, err
		}
	} else if config, err = json.Marshal(spec); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := ValidateSpec(spec, bundle); err != nil {
		return nil, err
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return nil, fmt.Errorf("resolve rootfs: %w", err)
	}

	dir := rt.dir(id)

	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("container %s already exists: %w", id, errdefs.ErrConflict)
		}
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	c := &Container{rt: rt, dir: dir, st: &savedState{
		ID: id, Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(),
		Owner: os.Getuid(), Config: config,
	}, spec: spec}
	lock, err := lockDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer lock.unlock()

	var cg cgroups.Manager
	var initPid int
	defer func() {
		if retErr == nil {
			return
		}
		// Undo in reverse: the process, its cgroup, the state.
		if initPid > 0 {
			unix.Kill(initPid, unix.SIGKILL)
			waitChild(initPid)
		}
		if cg != nil {
			if err := destroyCgroup(cg); err != nil {
				rt.log.Warn("cleanup after failed create", "id", id, "err", err)
			}
		}
		os.RemoveAll(dir)
	}()
	layout, err := cgroups.DetectLayout()
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	resources := withDeviceRules(spec)
	cg, err = cgroups.New(layout, cgroups.Config{Path: spec.Linux.CgroupsPath, Name: id, Resources: resources})
	if err != nil {
		return nil, err
	}
	spare, why := takeSpare(spec, o, bundle)
	if spare != nil {
		adopted, err := cgroups.Adopt(spare.cg, cg)
		if err != nil {
			returnSpare(spare)
			spare, why = nil, err.Error()
		} else {
			cg, initPid = adopted, spare.sp.pid
			if err := adoptIdle(cg, spec, dir); err != nil {
				return nil, err
			}
		}
	}
	if why != "" {
		rt.log.Debug("create without the spare init", "id", id, "why", why)
	}
	// Only the cgroup2 directory now: the stage is forked straight into
	// it. The v1 directories are made while the stage execs, and the
	// limits written while the init starts; the stage waits for the
	// directories (its bootstrap), the init for the limits (its config,
	// before it touches its devices).
	if uf, ok := cg.(cgroups.UnifiedFirst); ok && spare == nil {
		if err := uf.ApplyUnified(); err != nil {
			return nil, err
		}
	}
	late, resources := planLatePids(cg.Paths(), resources)
	c.st.CgroupPaths = cg.Paths()
	if err := writeState(dir, c.st); err != nil {
		return nil, err
	}
	if directDeleteAllowed(spec) {
		if err := writeDirectDelete(dir, c.st.CgroupPaths); err != nil {
			return nil, err
		}
	}
	setup := setupCgroupInBackground(cg, resources)
	defer setup.drain()

	var listener *os.File
	if !o.StartNow {
		if listener, err = listenStart(dir); err != nil {
			return nil, err
		}
		defer listener.Close()
		if directStartAllowed(spec) {
			if err := os.WriteFile(filepath.Join(dir, DirectStartFile), nil, 0o600); err != nil {
				return nil, err
			}
		}
	}
	console := o.Console
	if spec.Process != nil && spec.Process.Terminal && console == nil {
		if o.ConsoleSocket == "" {
			return nil, fmt.Errorf("process.terminal is set: a console socket is required: %w", errdefs.ErrInvalidParameter)
		}
		if console, err = dialUnix(o.ConsoleSocket); err != nil {
			return nil, fmt.Errorf("console socket %s: %w", o.ConsoleSocket, err)
		}
		defer console.Close()
	}

	cfg := containerInitConfig(spec)
	cgs := cgroupMounts(layout, c.st.CgroupPaths)
	// Before the init's mount namespace copies the host's, so that it
	// finds the skeleton.
	prepareCgroupSkeleton(rt.log, spec, cgs)
	// The seccomp filter is compiled while the init starts: the init needs
	// it only with its config.
	filter := compileSeccompInBackground(rt.root, spec)
	bs, err := bootstrapFor(spec)
	if err != nil {
		return nil, err
	}
	req := spawnRequest{
		bootstrap: bs, cgroup: cg, beforeBootstrap: setup.awaitDirs, beforeConfig: setup.awaitLimits, late: late,
		stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr,
		preserveFDs: o.PreserveFDs, console: console, listener: listener,
		spareDir: spareDir, awaitsStart: !o.StartNow,
	}
	if hasNewNamespace(spec, specs.UserNamespace) {
		req.uidMappings, req.gidMappings = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	if spec.Process != nil {
		req.oomScoreAdj = spec.Process.OOMScoreAdj
		if spec.Process.ExecCPUAffinity != nil {
			req.initialCPUs = spec.Process.ExecCPUAffinity.Initial
		}
	}
	defaultStdio(&req)
	var sp *spawned
	var passed *passedFDs
	if spare != nil {
		defer spare.sp.sync.Close()
		sp, passed, err = adoptSpare(spare, req, cfg, rootfs, namespacePath(spec, specs.NetworkNamespace))
	} else if sp, err = spawn(req); err == nil {
		defer sp.sync.Close()
	}
	if err != nil {
		return nil, err
	}
	initPid = sp.pid
	// Now, while the init waits for its config: with StartNow it may have
	// run and exited by the time it is ready.
	ps, err := readProcStat(sp.pid)
	if err != nil {
		return nil, fmt.Errorf("container init exited during create: %w", err)
	}

	cfg.ID, cfg.Bundle, cfg.Rootfs, cfg.HostPid, cfg.NoPivot = id, bundle, rootfs, sp.pid, o.NoPivot
	cfg.PreserveFDs, cfg.StartNow = o.PreserveFDs, o.StartNow
	if passed == nil {
		cfg.ConsoleFD, cfg.ListenFD, cfg.LatePidsFD = sp.consoleFD, sp.listenFD, sp.lateFD
	}
	cfg.Cgroups = cgs
	if late != nil {
		cfg.LatePidsValue = late.value
	}
	if cfg.Seccomp, err = filter.wait(); err != nil {
		return nil, err
	}
	if err := writeFrame(sp.sync, &syncMsg{Type: msgConfig, Config: cfg.encode()}); err != nil {
		return nil, fmt.Errorf("send init config: %w", err)
	}
	if passed != nil {
		if err := passed.send(sp.sync); err != nil {
			return nil, err
		}
	}
	for {
		m, err := readFrame(sp.sync)
		if err != nil {
			return nil, fmt.Errorf("container init exited during create: %w", err)
		}
		switch m.Type {
		case msgRunHooks:
			state := hookState(spec.Annotations, id, bundle, sp.pid, specs.StateCreated)
			if err := runHooks(ctx, "prestart", prestartHooks(spec.Hooks), state); err != nil {
				return nil, err
			}
			if err := runHooks(ctx, "createRuntime", spec.Hooks.CreateRuntime, state); err != nil {
				return nil, err
			}
			if err := writeFrame(sp.sync, &syncMsg{Type: msgHooksDone}); err != nil {
				return nil, err
			}
			continue
		case msgError:
			return nil, errors.New(m.Error)
		case msgReady:
		default:
			return nil, fmt.Errorf("unexpected %q from init", m.Type)
		}
		break
	}
	c.st.InitPid, c.st.InitStartTime = sp.pid, ps.StartTime
	if err := writeState(dir, c.st); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, sp.pid); err != nil {
			return nil, err
		}
	}
	if o.StartNow {
		if err := c.awaitExec(sp.sync); err != nil {
			return nil, err
		}
		if err := c.runPoststart(ctx); err != nil {
			return c, err
		}
	}
	return c, nil
}

func defaultStdio(req *spawnRequest) {
	if req.stdin == nil {
		req.stdin = os.Stdin
	}
	if req.stdout == nil {
		req.stdout = os.Stdout
	}
	if req.stderr == nil {
		req.stderr = os.Stderr
	}
}

// cgroupSetup makes a cgroup's directories and writes its limits in the
// background, in that order.
type cgroupSetup struct {
	dirs, limits      chan error
	dirsDone, allDone bool
}

func setupCgroupInBackground(cg cgroups.Manager, r *specs.LinuxResources) *cgroupSetup {
	s := &cgroupSetup{dirs: make(chan error, 1), limits: make(chan error, 1)}
	go func() {
		err := cg.Apply(-1)
		s.dirs <- err
		if err == nil {
			err = cg.Set(r)
		}
		s.limits <- err
	}()
	return s
}

func (s *cgroupSetup) awaitDirs() error {
	s.dirsDone = true
	return <-s.dirs
}

func (s *cgroupSetup) awaitLimits() error {
	if !s.dirsDone {
		if err := s.awaitDirs(); err != nil {
			s.allDone = true
			<-s.limits
			return err
		}
	}
	s.allDone = true
	return <-s.limits
}

// drain waits for the background work, so a failed create cleans up after
// it has finished.
func (s *cgroupSetup) drain() {
	if !s.allDone {
		s.awaitLimits()
	}
}

// withDeviceRules completes a device allow-list: the nodes the container
// is given (linux.devices) and the default devices must be usable, or the
// init could not even create them.
func withDeviceRules(spec *specs.Spec) *specs.LinuxResources {
	r := spec.Linux.Resources
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	out := *r
	out.Devices = append([]specs.LinuxDeviceCgroup(nil), r.Devices...)
	for _, d := range spec.Linux.Devices {
		if d.Type == "p" {
			continue // fifos are not devices to the cgroup
		}
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		major, minor := d.Major, d.Minor
		out.Devices = append(out.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm"})
	}
	out.Devices = append(out.Devices, DefaultDeviceRules()...)
	return &out
}

// bootstrapFor turns the spec's namespaces into what the constructor does.
func bootstrapFor(spec *specs.Spec) (nsenter.Bootstrap, error) {
	var b nsenter.Bootstrap
	for _, ns := range spec.Linux.Namespaces {
		flag := namespaceFlags.get(ns.Type)
		if ns.Path == "" {
			b.CloneFlags |= flag
			continue
		}
		b.Join = append(b.Join, nsenter.NamespacePath{Type: flag, Path: ns.Path})
	}
	if len(spec.Linux.TimeOffsets) > 0 {
		var sb strings.Builder
		for _, clock := range []string{"monotonic", "boottime"} {
			if off, ok := spec.Linux.TimeOffsets[clock]; ok {
				fmt.Fprintf(&sb, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
			}
		}
		b.TimeOffsets = sb.String()
	}
	return b, nil
}

// cgroupMounts describes the host's hierarchies for /sys/fs/cgroup in the
// container.
func cgroupMounts(l *cgroups.Layout, paths map[string]string) []cgroupMount {
	var out []cgroupMount
	if l.Mode == cgroups.Unified && l.Unified != nil {
		return []cgroupMount{{V2: true, HostPath: paths[""]}}
	}
	for _, h := range l.V1 {
		path := ""
		for _, c := range h.Controllers {
			if p, ok := paths[c]; ok {
				path = p
				break
			}
		}
		if path == "" {
			continue
		}
		dir := filepath.Base(h.Mountpoint)
		cm := cgroupMount{Dir: dir, Options: strings.Join(h.Controllers, ","), HostPath: path}
		if len(h.Controllers) > 1 {
			for _, c := range h.Controllers {
				if c != dir && !strings.HasPrefix(c, "name=") {
					cm.Symlinks = append(cm.Symlinks, c)
				}
			}
		}
		out = append(out, cm)
	}
	if l.Unified != nil && paths[""] != "" {
		out = append(out, cgroupMount{Dir: "unified", V2: true, HostPath: paths[""]})
	}
	return out
}

// listenStart binds the socket start connects to. It is reached through
// /proc/self/fd/<dir> so a deep --root cannot exceed sun_path's limit.
func listenStart(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start socket: %w", err)
	}
	path := procFD(d) + "/" + startSock
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind start socket: %w", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen on start socket: %w", err)
	}
	return os.NewFile(uintptr(fd), "start-listener"), nil
}

// dialUnix connects to a unix stream socket, also through a directory fd
// for long paths.
func dialUnix(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	name := path
	var d *os.File
	if len(path) >= 100 {
		if d, err = os.Open(filepath.Dir(path)); err != nil {
			unix.Close(fd)
			return nil, err
		}
		defer d.Close()
		name = procFD(d) + "/" + filepath.Base(path)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644, false); err != nil {
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	return nil
}

// Load opens an existing container.
func (rt *Runtime) Load(id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := rt.dir(id)
	st, err := readState(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("container %s does not exist: %w", id, errdefs.ErrNotFound)
		}
		return nil, err
	}
	return &Container{rt: rt, dir: dir, st: st}, nil
}

// List loads every container under the root, sorted by creation.
func (rt *Runtime) List() ([]*Container, error) {
	entries, err := os.ReadDir(rt.root)
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() || ValidateID(e.Name()) != nil {
			continue
		}
		c, err := rt.Load(e.Name())
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].st.Created.Before(out[j].st.Created) })
	return out, nil
}

// ID is the container's id.
func (c *Container) ID() string { return c.st.ID }

// Pid is the init's pid (0 while creating).
func (c *Container) Pid() int { return c.st.InitPid }

// State is what `state` prints: the spec's fields and runc's extras.
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// Status works the status out from the processes, never from a stored
// value that a crash could leave stale.
func (c *Container) Status() specs.ContainerState {
	if c.st.InitPid == 0 {
		return specs.StateCreating
	}
	if !processAlive(c.st.InitPid, c.st.InitStartTime) {
		return specs.StateStopped
	}
	if cg := c.cgroup(); cg != nil {
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return StatePaused
		}
	}
	if _, err := os.Lstat(filepath.Join(c.dir, startSock)); err == nil {
		return specs.StateCreated
	}
	return specs.StateRunning
}

// State reports the container's state.
func (c *Container) State() *State {
	status := c.Status()
	pid := c.st.InitPid
	if status == specs.StateStopped {
		pid = 0
	}
	owner := strconv.Itoa(c.st.Owner)
	if c.st.Owner == 0 {
		owner = "root"
	}
	return &State{
		State: specs.State{
			Version: specs.Version, ID: c.st.ID, Status: status, Pid: pid,
			Bundle: c.st.Bundle, Annotations: c.view().Annotations,
		},
		Rootfs: c.st.Rootfs, Created: c.st.Created, Owner: owner,
	}
}

func (c *Container) cgroup() cgroups.Manager {
	if len(c.st.CgroupPaths) == 0 {
		return nil
	}
	layout, err := cgroups.DetectLayout()
	if err != nil {
		return nil
	}
	m, err := cgroups.Load(layout, c.st.CgroupPaths)
	if err != nil {
		return nil
	}
	return m
}

// Start runs the process of a created container. It returns once the
// process has been exec'd and the poststart hooks have run.
func (c *Container) Start(ctx context.Context) error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.unlock()
	if s := c.Status(); s != specs.StateCreated {
		return fmt.Errorf("container %s is %s, not created: %w", c.st.ID, s, errdefs.ErrConflict)
	}
	conn, err := dialUnix(filepath.Join(c.dir, startSock))
	if err != nil {
		return fmt.Errorf("connect to container init: %w", err)
	}
	defer conn.Close()
	// From now on the container is no longer "created", whatever happens.
	os.Remove(filepath.Join(c.dir, startSock))
	if err := writeFrame(conn, &syncMsg{Type: msgStart}); err != nil {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			// Killed since it accepted us (state already said
			// running): its exit status is the answer, not an error.
			return nil
		}
		return fmt.Errorf("start: %w", err)
	}
	if err := c.awaitExec(conn); err != nil {
		return err
	}
	return c.runPoststart(ctx)
}

// runPoststart runs the poststart hooks of a container whose process runs.
func (c *Container) runPoststart(ctx context.Context) error {
	v := c.view()
	if hooks := v.poststart(); len(hooks) > 0 {
		state := hookState(v.Annotations, c.st.ID, c.st.Bundle, c.st.InitPid, specs.StateRunning)
		if err := runHooks(ctx, "poststart", hooks, state); err != nil {
			// The process runs; the spec says to report and go on.
			c.rt.log.Warn("poststart hook failed", "id", c.st.ID, "err", err)
			return err
		}
	}
	return nil
}

// awaitExec reads from the init until it execs (EOF), fails, or hands over
// a seccomp listener.
func (c *Container) awaitExec(conn *os.File) error {
	for {
		m, err := readFrame(conn)
		if err != nil {
			// The init closed its end: it exec'd (the socket is
			// close-on-exec) or was killed first, leaving its unread
			// input to turn the close into a reset. Its exit status
			// tells which; neither is start's error.
			if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
				return nil
			}
			return fmt.Errorf("container init: %w", err)
		}
		switch m.Type {
		case msgError:
			return errors.New(m.Error)
		case msgSeccompFD:
			fd, err := RecvFD(conn)
			if err != nil {
				return err
			}
			err = c.deliverSeccomp(fd)
			fd.Close()
			if err != nil {
				return err
			}
			if err := writeFrame(conn, &syncMsg{Type: msgSeccompDone}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected %q from init", m.Type)
		}
	}
}

// deliverSeccomp sends the notify listener and the container's state to
// the agent at linux.seccomp.listenerPath.
func (c *Container) deliverSeccomp(fd *os.File) error {
	v := c.view()
	listenerPath, metadata := v.seccompListener()
	if listenerPath == "" {
		return errors.New("seccomp notify is used but linux.seccomp.listenerPath is empty")
	}
	conn, err := dialUnix(listenerPath)
	if err != nil {
		return fmt.Errorf("seccomp listener %s: %w", listenerPath, err)
	}
	defer conn.Close()
	state := specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: c.st.InitPid,
		Metadata: metadata,
		State: specs.State{Version: specs.Version, ID: c.st.ID, Status: specs.StateCreated,
			Pid: c.st.InitPid, Bundle: c.st.Bundle, Annotations: v.Annotations},
	}
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	return unix.Sendmsg(int(conn.Fd()), data, unix.UnixRights(int(fd.Fd())), nil, 0)
}

// Kill signals the init, or with all every process of the container.
func (c *Container) Kill(sig unix.Signal, all bool) error {
	status := c.Status()
	if status != specs.StateCreated && status != specs.StateRunning && status != StatePaused {
		return fmt.Errorf("container %s is %s: %w", c.st.ID, status, errdefs.ErrConflict)
	}
	if all {
		return c.signalAll(sig)
	}
	if err := unix.Kill(c.st.InitPid, sig); err != nil {
		return fmt.Errorf("signal %d to pid %d: %w", sig, c.st.InitPid, err)
	}
	return nil
}

// signalAll signals every process in the container's cgroup. A paused
// container is thawed for SIGKILL so the processes can die.
func (c *Container) signalAll(sig unix.Signal) error {
	cg := c.cgroup()
	if cg == nil {
		return unix.Kill(c.st.InitPid, sig)
	}
	pids, err := cg.Pids()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %d to pid %d: %w", sig, pid, err)
		}
	}
	if sig == unix.SIGKILL {
		if frozen, _ := cg.Frozen(); frozen {
			cg.Thaw()
		}
	}
	return nil
}

// Delete removes a stopped container (force: any container, killing it
// first): its processes' cgroups and its state, then runs poststop hooks.
func (c *Container) Delete(ctx context.Context, force bool) error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.unlock()
	status := c.Status()
	if status != specs.StateStopped && status != specs.StateCreating {
		if !force {
			return fmt.Errorf("container %s is %s, not stopped: %w", c.st.ID, status, errdefs.ErrConflict)
		}
		c.signalAll(unix.SIGKILL)
		unix.Kill(c.st.InitPid, unix.SIGKILL)
		if err := c.waitStopped(ctx, 10*time.Second); err != nil {
			return err
		}
	}
	if cg := c.cgroup(); cg != nil {
		// Processes outside a pid namespace outlive the init.
		if pids, _ := cg.Pids(); len(pids) > 0 {
			for _, pid := range pids {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		if err := destroyCgroup(cg); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove state: %w", err)
	}
	v := c.view()
	if hooks := v.poststop(); len(hooks) > 0 {
		state := hookState(v.Annotations, c.st.ID, c.st.Bundle, c.st.InitPid, specs.StateStopped)
		if err := runHooks(ctx, "poststop", hooks, state); err != nil {
			c.rt.log.Warn("poststop hook failed", "id", c.st.ID, "err", err)
		}
	}
	return nil
}

// destroyCgroup removes a cgroup, waiting a little for exiting processes
// to leave it.
func destroyCgroup(cg cgroups.Manager) error {
	var err error
	for i := 0; i < 100; i++ {
		if err = cg.Destroy(); err == nil {
			return nil
		}
		if pids, _ := cg.Pids(); len(pids) > 0 {
			for _, pid := range pids {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup: %w", err)
}

// waitStopped waits for the init to exit, using a pidfd rather than
// polling.
func (c *Container) waitStopped(ctx context.Context, timeout time.Duration) error {
	pid := c.st.InitPid
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if !processAlive(pid, c.st.InitStartTime) {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return fmt.Errorf("container %s did not stop within %s: %w", c.st.ID, timeout, errdefs.ErrUnavailable)
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if n > 0 {
			// Exited; a zombie until its parent reaps it, which is
			// stopped as far as we care.
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Pause freezes every process of the container.
func (c *Container) Pause() error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.unlock()
	if s := c.Status(); s != specs.StateRunning && s != specs.StateCreated {
		return fmt.Errorf("container %s is %s, not running: %w", c.st.ID, s, errdefs.ErrConflict)
	}
	cg := c.cgroup()
	if cg == nil {
		return fmt.Errorf("container %s has no cgroup to freeze: %w", c.st.ID, errdefs.ErrNotImplemented)
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.unlock()
	if s := c.Status(); s != StatePaused {
		return fmt.Errorf("container %s is %s, not paused: %w", c.st.ID, s, errdefs.ErrConflict)
	}
	return c.cgroup().Thaw()
}

// Processes lists the pids of every process in the container.
func (c *Container) Processes() ([]int, error) {
	cg := c.cgroup()
	if cg == nil {
		if c.Status() == specs.StateStopped {
			return nil, nil
		}
		return []int{c.st.InitPid}, nil
	}
	return cg.Pids()
}

// Stats reads the container's cgroup statistics.
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg := c.cgroup()
	if cg == nil {
		return nil, fmt.Errorf("container %s has no cgroup: %w", c.st.ID, errdefs.ErrNotFound)
	}
	return cg.Stats()
}

// Update changes the container's resource limits.
func (c *Container) Update(r *specs.LinuxResources) error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.unlock()
	cg := c.cgroup()
	if cg == nil {
		return fmt.Errorf("container %s has no cgroup: %w", c.st.ID, errdefs.ErrNotFound)
	}
	spec, err := c.Spec()
	if err != nil {
		return err
	}
	if err := cg.Set(r); err != nil {
		return err
	}
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	mergeResources(spec.Linux.Resources, r)
	if err := c.setSpec(spec); err != nil {
		return err
	}
	return writeState(c.dir, c.st)
}

// mergeResources records the fields update changed.
func mergeResources(dst, src *specs.LinuxResources) {
	if src.Memory != nil {
		dst.Memory = src.Memory
	}
	if src.CPU != nil {
		dst.CPU = src.CPU
	}
	if src.Pids != nil {
		dst.Pids = src.Pids
	}
	if src.BlockIO != nil {
		dst.BlockIO = src.BlockIO
	}
	if src.HugepageLimits != nil {
		dst.HugepageLimits = src.HugepageLimits
	}
	if src.Unified != nil {
		dst.Unified = src.Unified
	}
}
