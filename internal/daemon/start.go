package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/logs"
	"github.com/berth-project/berth/internal/mount"
)

// ContainerStart is POST /containers/{id}/start.
func (d *Daemon) ContainerStart(ctx context.Context, name string) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	switch c.State.Status {
	case container.Running, container.Restarting:
		c.Unlock()
		return fmt.Errorf("container %s is already running: %w", c.ID, errdefs.ErrNotModified)
	case container.Paused:
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "cannot start a paused container, try unpause instead")
	case container.Removing, container.Dead:
		c.Unlock()
		return errdefs.Errorf(errdefs.ErrConflict, "container is marked for removal and cannot be started")
	}
	// A start by a user resets the restart policy's count and back-off
	// and forgets an earlier stop, as docker's does.
	c.ManuallyStopped = false
	c.RestartCount = 0
	r.restartDelay = 0
	autoRemove := c.IsAutoRemove()
	c.Unlock()
	err = d.start(context.WithoutCancel(ctx), c, r)
	if err != nil && autoRemove {
		// docker run --rm waits for the removal even when the start
		// failed.
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			if err := d.remove(context.Background(), c, r, true); err != nil {
				d.log.Warn("auto-remove after a failed start", "container", c.ID, "err", err)
			}
		}()
	}
	return err
}

// start runs the container: mount its root filesystem, generate and write
// the runtime spec, start a shim (runtime create), connect the attaches
// that wait for it, then start the init. The caller holds r.op. On error
// the container is left exited, with the reason in State.Error and
// docker's exit code for it (127 command not found, 126 not executable,
// 128 anything else), and nothing mounted.
func (d *Daemon) start(ctx context.Context, c *container.Container, r *run) (retErr error) {
	t0 := time.Now()
	// The shim pool refills once the client has what it waits for (see
	// refillPoolSoon): after this start, or after the removal of an
	// auto-remove container, whose client waits for it, or
	// poolRefillFallback from now if that container still runs.
	defer func() {
		if retErr != nil || !c.IsAutoRemove() {
			d.refillPoolSoon()
			return
		}
		time.AfterFunc(poolRefillFallback, func() {
			c.Lock()
			removed := r.removed
			c.Unlock()
			if !removed {
				d.refillPoolSoon()
			}
		})
	}()
	pre := d.takePrestart(c, r)
	task := pre.task
	if task == nil {
		var err error
		if task, err = d.launch(ctx, c, r, pre.mounted, nil); err != nil {
			return d.startFailed(c, r, err)
		}
	}
	defer func() {
		if retErr != nil {
			d.cleanupRun(ctx, c.ID, nil)
		}
	}()

	// Publish the task under c's lock after checking for Close, which
	// marks itself closing first and reads every task under its
	// container's lock: it either sees this task (and drops its
	// connection) or this start sees it closing and stops here. The
	// container then stays created in its shim, which the next daemon
	// cleans up.
	c.Lock()
	if d.isClosing() {
		c.Unlock()
		_ = task.Close()
		return errdefs.Errorf(errdefs.ErrUnavailable, "the daemon is shutting down")
	}
	r.task = task
	r.gen++
	gen := r.gen
	r.exited = make(chan struct{})
	r.stopping = false
	pending := r.attaches
	r.attaches = nil
	c.Unlock()
	for _, p := range pending {
		p.connect(task)
	}
	tStart := time.Now()
	pid, err := task.Start(ctx)
	if err != nil {
		_ = task.Delete(ctx)
		_ = task.Close()
		c.Lock()
		r.task = nil
		exited := r.exited
		c.Unlock()
		err = d.startFailed(c, r, err)
		close(exited)
		return err
	}

	c.Lock()
	if err := c.State.SetRunning(pid, time.Now().UTC()); err != nil {
		// Cannot happen: r.op excludes every other transition from here.
		d.log.Error("start: state", "container", c.ID, "err", err)
	}
	c.HasBeenStarted = true
	if hasHealthcheck(c.Config) {
		c.State.Health = &containertypes.Health{Status: containertypes.Starting, Log: []*containertypes.HealthcheckResult{}}
	} else {
		c.State.Health = nil
	}
	if err := d.containers.Checkpoint(c); err != nil {
		// The container runs; the record on disk still says it does not.
		// Restore looks for shims whatever the record says, so the only
		// loss is the start time, should the daemon die now (hence a
		// checkpoint, not a durable save).
		d.log.Error("start: save record", "container", c.ID, "err", err)
	}
	d.emit(c, "start", nil)
	d.startHealthMonitor(c, r)
	c.Unlock()

	d.bg.Add(1)
	go d.monitor(c, r, task, gen)
	d.log.Debug("container started", "container", c.ID, "pid", pid, "total", time.Since(t0),
		"prestarted", pre.task != nil, "start", time.Since(tStart))
	return nil
}

// launch makes c's task: it mounts the layer (unless mounted), sets up
// the network and volumes, writes the runtime spec and starts a shim,
// which runs the runtime's create. The container's process waits for
// the task's Start. A non-nil hurry makes the task ahead of need
// (taskConfig.Hurry). On error launch undoes what it did.
func (d *Daemon) launch(ctx context.Context, c *container.Container, r *run, mounted bool, hurry <-chan struct{}) (_ container.Task, retErr error) {
	c.Lock()
	in, rt, err := d.startInput(c)
	if err == nil {
		err = d.ensureContainerFiles(c)
	}
	tc := taskConfig{
		ID:          c.ID,
		Bundle:      d.bundleDir(c.ID),
		StateDir:    d.shimDir(c.ID),
		Runtime:     rt.Path,
		RuntimeRoot: d.runtimeRoot(),
		RuntimeArgs: rt.Args,
		Terminal:    c.Config.Tty,
		OpenStdin:   c.Config.OpenStdin,
		StdinOnce:   c.Config.StdinOnce,
		LogDriver:   c.HostConfig.LogConfig.Type,
		LogPath:     c.LogPath,
		LogOpts:     c.HostConfig.LogConfig.Config,
		Hurry:       hurry,
	}
	if err == nil && (tc.LogDriver == logs.JSONFile || tc.LogDriver == "") {
		// json-file stores these with each entry, for logs --details.
		tc.LogAttrs, err = logs.ExtraAttrs(tc.LogOpts, c.Config.Labels, c.Config.Env)
	}
	snapKey := c.SnapshotKey
	// An auto-remove container's layer is deleted at its exit: it needs
	// no durability, and a volatile overlay spares the unmount a syncfs
	// of the whole upper filesystem (5-20 ms here, on the exit path).
	volatile := c.IsAutoRemove()
	c.Unlock()
	if err != nil {
		if mounted {
			d.cleanupRun(ctx, tc.ID, nil)
		}
		return nil, err
	}

	rootfs := d.rootfsDir(c.ID)
	tMount := time.Now()
	if !mounted {
		if err := d.mountRootfs(ctx, snapKey, rootfs, volatile); err != nil {
			return nil, err
		}
	}
	defer func() {
		if retErr != nil {
			d.cleanupRun(ctx, c.ID, nil)
		}
	}()
	in.Rootfs = rootfs
	if err := d.setupNetwork(ctx, c, &in); err != nil {
		return nil, err
	}
	if err := d.setupVolumes(ctx, c, &in); err != nil {
		return nil, err
	}
	tSpec := time.Now()
	sp, err := spec.Generate(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := checkBindPropagation(sp.Mounts); err != nil {
		return nil, err
	}
	d.shareCgroupSkeleton(sp, in.Runtime)
	if err := writeSpec(tc.Bundle, sp); err != nil {
		return nil, err
	}
	if tc.Process, err = json.Marshal(sp.Process); err != nil {
		return nil, err
	}
	// A shim directory left by an earlier run (its shim gone) would
	// confuse the new shim.
	_ = os.RemoveAll(tc.StateDir)
	tShim := time.Now()
	task, err := d.tasks.Start(ctx, tc)
	if err != nil {
		return nil, err
	}
	// The runtime keeps what it needs of the spec in its own state; the
	// bundle's copy (some 10 KB, three pages of the exec root's tmpfs per
	// running container) is only read at the create. An exec reads the
	// process section from the shim's configuration (tc.Process).
	_ = os.Remove(filepath.Join(tc.Bundle, "config.json"))
	d.recordUpper(ctx, c, r)
	d.log.Debug("container launched", "container", c.ID, "mount", tSpec.Sub(tMount),
		"spec", tShim.Sub(tSpec), "shim+create", time.Since(tShim))
	return task, nil
}

// startInput collects, under c's lock, what spec.Generate needs (but the
// rootfs) and the runtime to use.
func (d *Daemon) startInput(c *container.Container) (spec.Input, runtimeBinary, error) {
	rt, ok := d.runtimes[c.Runtime]
	if !ok {
		return spec.Input{}, runtimeBinary{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown or invalid runtime name: %s", c.Runtime)
	}
	var ulimits []containertypes.Ulimit
	for _, u := range d.cfg.DefaultUlimits {
		ulimits = append(ulimits, *u)
	}
	in := spec.Input{
		ID:             c.ID,
		Name:           strings.TrimPrefix(c.Name, "/"),
		Config:         c.Config,
		Host:           c.HostConfig,
		Merged:         true,
		HostsPath:      c.HostsPath,
		ResolvConfPath: c.ResolvConfPath,
		HostnamePath:   c.HostnamePath,
		CgroupParent:   d.cfg.EffectiveCgroupParent(),
		InitPath:       d.initPath,
		NamespacePath:  d.namespacePath,
		DefaultUlimits: ulimits,
		Runtime:        c.Runtime,
	}
	return in, runtimeBinary{Path: rt.Path, Args: rt.Args}, nil
}

type runtimeBinary struct {
	Path string
	Args []string
}

// namespacePath resolves --pid/--ipc/--network container:<name> to that
// running container's namespace.
func (d *Daemon) namespacePath(kind specs.LinuxNamespaceType, target string) (string, error) {
	other, err := d.containers.Get(target)
	if err != nil {
		return "", err
	}
	other.Lock()
	pid, running := other.State.Pid, other.State.HasProcess()
	other.Unlock()
	if !running {
		return "", errdefs.Errorf(errdefs.ErrConflict, "cannot join namespace of a non running container: %s", target)
	}
	names := map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc", specs.NetworkNamespace: "net",
		specs.UTSNamespace: "uts", specs.UserNamespace: "user", specs.CgroupNamespace: "cgroup",
		specs.MountNamespace: "mnt",
	}
	n, ok := names[kind]
	if !ok {
		return "", fmt.Errorf("namespace %s: %w", kind, errdefs.ErrInvalidParameter)
	}
	return fmt.Sprintf("/proc/%d/ns/%s", pid, n), nil
}

// mountRootfs mounts the container's snapshot at rootfs, first undoing a
// mount left by an earlier run. volatile adds overlayfs's "volatile"
// option (no syncs: the layer does not outlive a crash), which kernels
// before 5.10 refuse: they get the plain mount.
func (d *Daemon) mountRootfs(ctx context.Context, key, rootfs string, volatile bool) error {
	if volatile && d.takeParked(key, rootfs) {
		return nil // recycled, mounted (recycle_snapshot.go)
	}
	mounts, err := d.snapshots.Mounts(ctx, key)
	if err != nil {
		return fmt.Errorf("container filesystem: %w", err)
	}
	if volatile {
		d.noteLayerDirs(key, mounts)
	}
	if err := os.MkdirAll(rootfs, 0o711); err != nil {
		return err
	}
	_ = mount.UnmountAll(rootfs, 0)
	if volatile && d.volatileOverlay.Load() >= 0 {
		vm := withVolatile(mounts)
		err := mount.All(vm, rootfs)
		if err == nil {
			d.volatileOverlay.Store(1)
			return nil
		}
		if !errors.Is(err, syscall.EINVAL) || d.volatileOverlay.Load() > 0 {
			return fmt.Errorf("mount the container's filesystem: %w", err)
		}
		d.volatileOverlay.Store(-1)
		d.log.Info("overlayfs refuses the volatile option: auto-remove containers get durable layers", "err", err)
	}
	if err := mount.All(mounts, rootfs); err != nil {
		return fmt.Errorf("mount the container's filesystem: %w", err)
	}
	return nil
}

// withVolatile is mounts with "volatile" added to every overlay mount.
func withVolatile(mounts []mount.Mount) []mount.Mount {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		out[i] = m
		if m.Type == "overlay" {
			out[i].Options = append(append([]string(nil), m.Options...), "volatile")
		}
	}
	return out
}

// processFile, in the bundle, was the spec's process section, which an
// exec starts from, before the shim's configuration kept it
// (taskConfig.Process); a container of an earlier daemon may have one.
const processFile = "process.json"

func writeSpec(bundle string, sp *specs.Spec) error {
	b, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	// The bundle lives under the exec root, gone after a reboot anyway:
	// no fsync.
	return writeFile(filepath.Join(bundle, "config.json"), b, 0o600, false)
}

// startFailed records a failed start as docker does: the exit code for
// the cause and the cause in State.Error; a container that never ran
// stays created (ps shows "Created"), one restarted by its policy becomes
// exited (and its waiters are answered). Attaches waiting for the start
// end. It returns err for the caller, as docker words it.
func (d *Daemon) startFailed(c *container.Container, r *run, err error) error {
	code := startExitCode(err)
	c.Lock()
	defer c.Unlock()
	exited := c.State.Status == container.Restarting
	if exited {
		_ = c.State.SetExited(code, false, time.Now().UTC(), err.Error())
	} else {
		c.State.ExitCode = code
		c.State.Error = err.Error()
	}
	if serr := d.containers.Save(c); serr != nil {
		d.log.Error("start failed: save record", "container", c.ID, "err", serr)
	}
	for _, p := range r.attaches {
		p.abort()
	}
	r.attaches = nil
	if exited {
		// A container that never ran did not exit: as with dockerd, a
		// wait for its next exit goes on (the docker CLI's, begun before
		// the start, would otherwise log the start's error a second
		// time as "Error waiting for container").
		r.notifyExit(code, err.Error())
	}
	d.emit(c, "die", map[string]string{"exitCode": fmt.Sprint(code)})
	if errdefs.IsInvalidParameter(err) || errdefs.IsNotFound(err) || errdefs.IsConflict(err) {
		return err
	}
	if code == 126 && !strings.Contains(err.Error(), syscall.EACCES.Error()) {
		// execve(2) of a directory fails with EACCES; a runtime that
		// checks first says "is a directory". Clients before docker 25
		// look for "permission denied" alone to exit 126.
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "failed to create task for container: %v: %v", err, syscall.EACCES)
	}
	if code == 127 || code == 126 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "failed to create task for container: %v", err)
	}
	return fmt.Errorf("failed to start container %s: %w", container.ShortID(c.ID), err)
}

// startExitCode is the exit code docker gives a container that could not
// start, from the runtime's words.
func startExitCode(err error) int {
	if isNetworkSetupError(err) {
		return 128
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"),
		errors.Is(err, syscall.ENOENT):
		return 127
	case strings.Contains(msg, syscall.EACCES.Error()), strings.Contains(msg, syscall.EISDIR.Error()),
		errors.Is(err, syscall.EACCES):
		return 126
	}
	return 128
}

// cleanupRun undoes what a start set up: the rootfs mount, the bundle and
// the shim's directory. Errors are logged: the next start retries them.
// The bundle is removed entry by entry, never recursively: should the
// rootfs still be mounted, a recursive removal would delete the
// container's files through it.
func (d *Daemon) cleanupRun(ctx context.Context, id string, _ error) {
	_ = ctx
	rootfs := d.rootfsDir(id)
	if _, err := os.Lstat(rootfs); err != nil {
		// Nothing mounted there: a second cleanup (rm after an exit).
	} else if err := mount.UnmountAll(rootfs, 0); err != nil {
		d.log.Warn("unmount rootfs", "container", id, "err", err)
		if err := mount.UnmountAll(rootfs, syscall.MNT_DETACH); err != nil {
			d.log.Error("unmount rootfs (detached)", "container", id, "err", err)
		}
	}
	bundle := d.bundleDir(id)
	for _, p := range []string{filepath.Join(bundle, "config.json"), filepath.Join(bundle, processFile), rootfs, bundle} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			d.log.Warn("remove bundle", "container", id, "path", p, "err", err)
		}
	}
	if err := os.RemoveAll(d.shimDir(id)); err != nil {
		d.log.Warn("remove shim state", "container", id, "err", err)
	}
	d.teardownNetwork(ctx, id)
	d.unmountVolumes(ctx, id)
}
