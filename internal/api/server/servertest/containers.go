package servertest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

type fakeContainer struct {
	id, name string
	cfg      *container.Config
	host     *container.HostConfig
	created  time.Time
	state    container.ContainerState
	exitCode int
	started  time.Time
	finished time.Time

	logs []server.LogMessage
	// changed is closed and replaced whenever logs grow or the state
	// changes, waking followers.
	changed chan struct{}
	// attached output of attach sessions.
	outputs []*output
	stdinR  *io.PipeReader
	stdinW  *io.PipeWriter
	stop    chan syscall.Signal
	waiters []waiter
	removed bool
	exits   int // runs ended so far
}

type waiter struct {
	cond container.WaitCondition
	ch   chan container.WaitResponse
}

type output struct {
	stdout, stderr io.Writer
	tty            bool
	mu             sync.Mutex
}

// broadcast wakes followers. f.mu must be held.
func (c *fakeContainer) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// emit appends a log line and copies it to attached clients.
func (f *Fake) emit(c *fakeContainer, stream, line string) {
	f.mu.Lock()
	msg := server.LogMessage{Stream: stream, Line: []byte(line), Time: time.Now().UTC()}
	c.logs = append(c.logs, msg)
	outs := slices.Clone(c.outputs)
	c.broadcast()
	f.mu.Unlock()
	for _, o := range outs {
		o.mu.Lock()
		w := o.stdout
		if stream == "stderr" && !o.tty {
			w = o.stderr
		}
		if w != nil {
			_, _ = io.WriteString(w, line)
		}
		o.mu.Unlock()
	}
}

// ContainerCreate stores a container; the image must exist.
func (f *Fake) ContainerCreate(ctx context.Context, req server.ContainerCreateRequest) (container.CreateResponse, error) {
	if err := f.enter("ContainerCreate", req.Name, req); err != nil {
		return container.CreateResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.findImage(req.Config.Image); err != nil {
		return container.CreateResponse{}, errdefs.Errorf(errdefs.ErrNotFound, "No such image: %s", req.Config.Image)
	}
	name := strings.TrimPrefix(req.Name, "/")
	id := newID()
	if name == "" {
		name = "fake_" + id[:8]
	}
	for _, c := range f.containers {
		if c.name == name {
			return container.CreateResponse{}, errdefs.Errorf(errdefs.ErrConflict,
				`Conflict. The container name "/%s" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, name, c.id)
		}
	}
	c := &fakeContainer{id: id, name: name, cfg: req.Config, host: req.Host, created: time.Now().UTC(),
		state: container.StateCreated, changed: make(chan struct{})}
	f.containers[id] = c
	f.publish(events.ContainerEventType, events.ActionCreate, id, map[string]string{"name": name, "image": req.Config.Image})
	return container.CreateResponse{ID: id, Warnings: []string{}}, nil
}

// ContainerList lists containers, running ones only unless All; it
// understands the filters "name", "id", "status" and "label".
func (f *Fake) ContainerList(ctx context.Context, opts server.ContainerListOptions) ([]container.Summary, error) {
	if err := f.enter("ContainerList", "", opts); err != nil {
		return nil, err
	}
	for k := range opts.Filters {
		switch k {
		case "name", "id", "status", "label", "since", "before", "ancestor", "exited", "health", "network", "volume", "publish", "expose", "is-task":
		default:
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s'", k)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []container.Summary
	for _, c := range f.containers {
		if !opts.All && c.state != container.StateRunning && len(opts.Filters["status"]) == 0 {
			continue
		}
		if !matchFilter(opts.Filters["name"], c.name) || !matchFilter(opts.Filters["id"], c.id) ||
			!matchFilter(opts.Filters["status"], string(c.state)) || !matchLabels(opts.Filters["label"], c.cfg.Labels) {
			continue
		}
		list = append(list, c.summary())
	}
	slices.SortFunc(list, func(a, b container.Summary) int { return int(b.Created - a.Created) })
	if opts.Limit > 0 && len(list) > opts.Limit {
		list = list[:opts.Limit]
	}
	return list, nil
}

func matchFilter(want []string, have string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if strings.Contains(have, w) {
			return true
		}
	}
	return false
}

func matchLabels(want []string, labels map[string]string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

func (c *fakeContainer) summary() container.Summary {
	return container.Summary{
		ID:      c.id,
		Names:   []string{"/" + c.name},
		Image:   c.cfg.Image,
		ImageID: "sha256:" + strings.Repeat("0", 64),
		Command: strings.Join(c.cfg.Cmd, " "),
		Created: c.created.Unix(),
		Labels:  c.cfg.Labels,
		State:   c.state,
		Status:  c.status(),
		Ports:   []container.PortSummary{},
		Mounts:  []container.MountPoint{},
	}
}

func (c *fakeContainer) status() string {
	switch c.state {
	case container.StateRunning:
		return "Up Less than a second"
	case container.StateExited:
		return fmt.Sprintf("Exited (%d) Less than a second ago", c.exitCode)
	case container.StatePaused:
		return "Up Less than a second (Paused)"
	}
	return "Created"
}

// ContainerInspect describes a container.
func (f *Fake) ContainerInspect(ctx context.Context, name string, size bool) (container.InspectResponse, error) {
	if err := f.enter("ContainerInspect", name, size); err != nil {
		return container.InspectResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return container.InspectResponse{}, err
	}
	var path string
	var args []string
	if len(c.cfg.Cmd) > 0 {
		path, args = c.cfg.Cmd[0], c.cfg.Cmd[1:]
	}
	st := &container.State{
		Status:   c.state,
		Running:  c.state == container.StateRunning || c.state == container.StatePaused,
		Paused:   c.state == container.StatePaused,
		ExitCode: c.exitCode,
	}
	if !c.started.IsZero() {
		st.StartedAt = c.started.Format(time.RFC3339Nano)
	}
	if !c.finished.IsZero() {
		st.FinishedAt = c.finished.Format(time.RFC3339Nano)
	}
	return container.InspectResponse{
		ID: c.id, Name: "/" + c.name, Created: c.created.Format(time.RFC3339Nano),
		Path: path, Args: args, State: st, Image: "sha256:" + strings.Repeat("0", 64),
		Config: c.cfg, HostConfig: c.host, Driver: "overlay", Mounts: []container.MountPoint{},
	}, nil
}

// ContainerStart runs the container's toy program.
func (f *Fake) ContainerStart(ctx context.Context, name string) error {
	if err := f.enter("ContainerStart", name, nil); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	if c.state == container.StateRunning || c.state == container.StatePaused {
		return errdefs.Errorf(errdefs.ErrNotModified, "container already started")
	}
	f.startLocked(c)
	return nil
}

func (f *Fake) startLocked(c *fakeContainer) {
	c.state = container.StateRunning
	c.started = time.Now().UTC()
	if c.stdinR == nil {
		c.stdinR, c.stdinW = io.Pipe()
	}
	c.stop = make(chan syscall.Signal, 1)
	c.broadcast()
	f.publish(events.ContainerEventType, events.ActionStart, c.id, map[string]string{"name": c.name, "image": c.cfg.Image})
	stdin, stop := c.stdinR, c.stop
	go func() {
		code := f.runProgram(c.cfg.Cmd, stdin, stop,
			func(s string) { f.emit(c, "stdout", s) }, func(s string) { f.emit(c, "stderr", s) })
		f.exit(c, code)
	}()
}

// runProgram runs a toy program (see the package doc) and returns its
// exit code.
func (f *Fake) runProgram(cmd []string, stdin io.Reader, stop <-chan syscall.Signal, stdout, stderr func(string)) int {
	prog := ""
	if len(cmd) > 0 {
		prog = cmd[0]
	}
	switch prog {
	case "echo":
		stdout(strings.Join(cmd[1:], " ") + "\n")
		return 0
	case "stderr":
		stderr(strings.Join(cmd[1:], " ") + "\n")
		return 0
	case "exit":
		if len(cmd) > 1 {
			n, _ := strconv.Atoi(cmd[1])
			return n
		}
		return 0
	case "cat":
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 {
					stdout(string(buf[:n]))
				}
				if err != nil {
					return
				}
			}
		}()
		select {
		case <-done:
			return 0
		case sig := <-stop:
			return 128 + int(sig)
		}
	}
	sig := <-stop
	return 128 + int(sig)
}

// exit records the end of the container's program.
func (f *Fake) exit(c *fakeContainer, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.state = container.StateExited
	c.exits++
	c.exitCode = code
	c.finished = time.Now().UTC()
	c.stdinR, c.stdinW = nil, nil
	c.broadcast()
	f.publish(events.ContainerEventType, events.ActionDie, c.id, map[string]string{"name": c.name, "image": c.cfg.Image, "exitCode": strconv.Itoa(code)})
	var keep []waiter
	for _, w := range c.waiters {
		if w.cond == container.WaitConditionRemoved {
			keep = append(keep, w)
			continue
		}
		w.ch <- container.WaitResponse{StatusCode: int64(code)}
	}
	c.waiters = keep
	if c.host != nil && c.host.AutoRemove {
		f.removeLocked(c)
	}
}

// ContainerStop ends a running container (exit 143, or 137 for KILL).
func (f *Fake) ContainerStop(ctx context.Context, name string, opts server.StopOptions) error {
	if err := f.enter("ContainerStop", name, opts); err != nil {
		return err
	}
	sig := syscall.SIGTERM
	if opts.Signal != "" {
		s, err := server.ParseSignal(opts.Signal)
		if err != nil {
			return err
		}
		sig = s
	}
	f.mu.Lock()
	c, err := f.findContainer(name)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	if c.state != container.StateRunning && c.state != container.StatePaused {
		f.mu.Unlock()
		return errdefs.Errorf(errdefs.ErrNotModified, "container already stopped")
	}
	changed := c.changed
	c.signal(sig)
	f.mu.Unlock()
	f.waitState(ctx, c, changed, container.StateExited)
	return nil
}

func (c *fakeContainer) signal(sig syscall.Signal) {
	select {
	case c.stop <- sig:
	default:
	}
}

// waitState waits until c reaches state (or ctx ends).
func (f *Fake) waitState(ctx context.Context, c *fakeContainer, changed chan struct{}, state container.ContainerState) {
	for {
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
		f.mu.Lock()
		st := c.state
		changed = c.changed
		f.mu.Unlock()
		if st == state {
			return
		}
	}
}

// ContainerRestart stops the container if it runs, then starts it.
func (f *Fake) ContainerRestart(ctx context.Context, name string, opts server.StopOptions) error {
	if err := f.enter("ContainerRestart", name, opts); err != nil {
		return err
	}
	f.mu.Lock()
	c, err := f.findContainer(name)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	if c.state == container.StateRunning {
		changed := c.changed
		c.signal(syscall.SIGTERM)
		f.mu.Unlock()
		f.waitState(ctx, c, changed, container.StateExited)
		f.mu.Lock()
	}
	f.startLocked(c)
	f.mu.Unlock()
	return nil
}

// ContainerKill sends a signal: the toy program ends on any of them.
func (f *Fake) ContainerKill(ctx context.Context, name, signal string) error {
	if err := f.enter("ContainerKill", name, signal); err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if signal != "" {
		s, err := server.ParseSignal(signal)
		if err != nil {
			return err
		}
		sig = s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	if c.state != container.StateRunning {
		return notRunning(c)
	}
	c.signal(sig)
	return nil
}

// ContainerPause marks a running container paused.
func (f *Fake) ContainerPause(ctx context.Context, name string) error {
	return f.setPaused("ContainerPause", name, true)
}

// ContainerUnpause marks a paused container running.
func (f *Fake) ContainerUnpause(ctx context.Context, name string) error {
	return f.setPaused("ContainerUnpause", name, false)
}

func (f *Fake) setPaused(method, name string, paused bool) error {
	if err := f.enter(method, name, nil); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	switch {
	case paused && c.state == container.StateRunning:
		c.state = container.StatePaused
	case !paused && c.state == container.StatePaused:
		c.state = container.StateRunning
	case paused && c.state == container.StatePaused:
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is already paused", c.id)
	case !paused:
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not paused", c.id)
	default:
		return notRunning(c)
	}
	c.broadcast()
	return nil
}

// ContainerWait registers a wait and returns at once, as the interface
// asks.
func (f *Fake) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	if err := f.enter("ContainerWait", name, cond); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return nil, err
	}
	ch := make(chan container.WaitResponse, 1)
	if cond == container.WaitConditionNotRunning && c.state != container.StateRunning && c.state != container.StatePaused {
		ch <- container.WaitResponse{StatusCode: int64(c.exitCode)}
		return ch, nil
	}
	c.waiters = append(c.waiters, waiter{cond: cond, ch: ch})
	return ch, nil
}

// ContainerRemove removes a container; a running one needs Force.
func (f *Fake) ContainerRemove(ctx context.Context, name string, opts server.RemoveOptions) error {
	if err := f.enter("ContainerRemove", name, opts); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	if c.state == container.StateRunning || c.state == container.StatePaused {
		if !opts.Force {
			return errdefs.Errorf(errdefs.ErrConflict,
				"cannot remove container %q: container is running: stop the container before removing or force remove", "/"+c.name)
		}
		c.signal(syscall.SIGKILL)
		// The program's exit finds the container gone and only
		// completes its waiters.
	}
	f.removeLocked(c)
	return nil
}

func (f *Fake) removeLocked(c *fakeContainer) {
	if c.removed {
		return
	}
	c.removed = true
	delete(f.containers, c.id)
	for _, w := range c.waiters {
		w.ch <- container.WaitResponse{StatusCode: int64(c.exitCode)}
	}
	c.waiters = nil
	c.broadcast()
	f.publish(events.ContainerEventType, events.ActionDestroy, c.id, map[string]string{"name": c.name, "image": c.cfg.Image})
}

// ContainerResize records the size.
func (f *Fake) ContainerResize(ctx context.Context, name string, height, width uint) error {
	if err := f.enter("ContainerResize", name, [2]uint{height, width}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	if c.state != container.StateRunning {
		return notRunning(c)
	}
	return nil
}

// ContainerTop lists the toy program as the one process.
func (f *Fake) ContainerTop(ctx context.Context, name, psArgs string) (container.TopResponse, error) {
	if err := f.enter("ContainerTop", name, psArgs); err != nil {
		return container.TopResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return container.TopResponse{}, err
	}
	if c.state != container.StateRunning {
		return container.TopResponse{}, notRunning(c)
	}
	return container.TopResponse{
		Titles:    []string{"UID", "PID", "CMD"},
		Processes: [][]string{{"root", "4242", strings.Join(c.cfg.Cmd, " ")}},
	}, nil
}

// ContainerStats sends made-up samples: one, or one every 50 ms.
func (f *Fake) ContainerStats(ctx context.Context, name string, opts server.StatsOptions, send func(container.StatsResponse) error) error {
	if err := f.enter("ContainerStats", name, opts); err != nil {
		return err
	}
	f.mu.Lock()
	c, err := f.findContainer(name)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		s := container.StatsResponse{ID: c.id, Name: "/" + c.name, OSType: "linux", Read: time.Now().UTC()}
		s.MemoryStats.Usage = uint64(1<<20 + i)
		s.PidsStats.Current = 1
		if err := send(s); err != nil || !opts.Stream {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ContainerRename renames; the new name must be free.
func (f *Fake) ContainerRename(ctx context.Context, name, newName string) error {
	if err := f.enter("ContainerRename", name, newName); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	newName = strings.TrimPrefix(newName, "/")
	for _, o := range f.containers {
		if o.name == newName && o != c {
			return errdefs.Errorf(errdefs.ErrConflict, "Conflict. The container name %q is already in use by container %q.", "/"+newName, o.id)
		}
	}
	c.name = newName
	return nil
}

// ContainerUpdate stores the new restart policy.
func (f *Fake) ContainerUpdate(ctx context.Context, name string, update container.UpdateConfig) (container.UpdateResponse, error) {
	if err := f.enter("ContainerUpdate", name, update); err != nil {
		return container.UpdateResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	if c.host != nil && update.RestartPolicy.Name != "" {
		c.host.RestartPolicy = update.RestartPolicy
	}
	return container.UpdateResponse{Warnings: []string{}}, nil
}

// ContainersPrune removes every stopped container.
func (f *Fake) ContainersPrune(ctx context.Context, filters server.Filters) (container.PruneReport, error) {
	if err := f.enter("ContainersPrune", "", filters); err != nil {
		return container.PruneReport{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var report container.PruneReport
	for _, c := range f.containers {
		if c.state == container.StateExited || c.state == container.StateCreated {
			report.ContainersDeleted = append(report.ContainersDeleted, c.id)
			f.removeLocked(c)
		}
	}
	return report, nil
}
