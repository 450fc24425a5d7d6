package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/runtime/cgroups"
	"github.com/berth-project/berth/internal/runtime/nsenter"
)

// A spare init is a container's init started before its container is
// known, by a warm runtime (a pooled shim) while it waits for its
// container: the stage, the namespaces and the init's Go start, about half
// of what a create costs, are done by the time the create comes. The
// spare waits for its config as any init does, in a cgroup of its own
// under the daemon's cgroup parent.
//
// A create whose container the spare fits adopts it: the cgroup v1
// directories are renamed to the container's (cgroups.Adopt); what the
// init would have inherited at its fork (its stdio, the console and start
// sockets, the pids limit file) follows its config as descriptors, with
// the container's root filesystem as a detached mount (the spare's mount
// namespace is a copy taken before that filesystem was mounted) and its
// network namespace, which the init's one thread enters before it sets up
// anything. A container the spare does not fit is created as usual, and
// the spare is discarded when the runtime exits.
//
// It fits a container with new mount, pid, ipc and uts namespaces, a
// network namespace given by path or the host's, no user, cgroup or time
// namespace, no hooks, no preserved descriptors, no initial CPU affinity,
// the spare's cgroup parent, and bind mounts of files only (a directory
// could hold mounts made since the spare's namespace was copied, which it
// would not show).

// spareFlags are the namespaces a spare init is made in.
const spareFlags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// spareNamespaces are those, by type: the spec must ask for each, new.
var spareNamespaces = []specs.LinuxNamespaceType{specs.MountNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace}

// SparePrefix starts the name of a spare's cgroup.
const SparePrefix = "spare-"

type spareInit struct {
	sp     *spawned
	cg     cgroups.Manager
	parent string // the cgroupsPath parent it was made under
}

var (
	spareMu      sync.Mutex
	pendingSpare *spareInit
)

// StartSpare starts a spare init whose cgroup is under cgroupParent, an
// absolute cgroupsPath directory ("/berth"). A layout without cgroup v1
// gets none: cgroup2 directories cannot be renamed.
func (rt *Runtime) StartSpare(cgroupParent string) error {
	if !path.IsAbs(cgroupParent) {
		return fmt.Errorf("spare init: cgroup parent %q is not absolute: %w", cgroupParent, errdefs.ErrInvalidParameter)
	}
	layout, err := cgroups.DetectLayout()
	if err != nil {
		return err
	}
	if layout.Mode == cgroups.Unified {
		return fmt.Errorf("spare init: a cgroup2 host: %w", errdefs.ErrNotImplemented)
	}
	removeStaleSpares(layout, cgroupParent)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	name := SparePrefix + hex.EncodeToString(b[:])
	cg, err := cgroups.New(layout, cgroups.Config{Path: path.Join(cgroupParent, name), Name: name})
	if err != nil {
		return err
	}
	if err := cg.Apply(-1); err != nil {
		_ = cg.Destroy()
		return err
	}
	makeIdle(cg) // idle_linux.go
	null, err := os.OpenFile(os.DevNull, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = cg.Destroy()
		return err
	}
	defer null.Close()
	sp, err := spawn(spawnRequest{
		bootstrap: nsenter.Bootstrap{CloneFlags: spareFlags},
		cgroup:    cg,
		stdin:     null, stdout: null, stderr: null,
		spareDir:    filepath.Join(rt.root, spareDirName),
		awaitsStart: true,
	})
	if err != nil {
		_ = destroyCgroup(cg)
		return err
	}
	spareMu.Lock()
	old := pendingSpare
	pendingSpare = &spareInit{sp: sp, cg: cg, parent: cgroupParent}
	spareMu.Unlock()
	old.discard()
	return nil
}

// DropSpare ends the spare init no create took.
func DropSpare() {
	spareMu.Lock()
	s := pendingSpare
	pendingSpare = nil
	spareMu.Unlock()
	s.discard()
}

// takeSpare returns the spare init if it fits the container, and leaves
// it for DropSpare otherwise; why says why not.
func takeSpare(spec *specs.Spec, o CreateOpts, bundle string) (s *spareInit, why string) {
	spareMu.Lock()
	defer spareMu.Unlock()
	if pendingSpare == nil {
		return nil, ""
	}
	if why := pendingSpare.fits(spec, o, bundle); why != "" {
		return nil, why
	}
	s, pendingSpare = pendingSpare, nil
	return s, ""
}

func (s *spareInit) fits(spec *specs.Spec, o CreateOpts, bundle string) string {
	switch {
	case o.PreserveFDs > 0 || o.StartNow:
		return "preserved descriptors or run"
	case spec.Hooks != nil && (len(prestartHooks(spec.Hooks))+len(spec.Hooks.CreateRuntime)+len(spec.Hooks.CreateContainer)+
		len(spec.Hooks.StartContainer)+len(spec.Hooks.Poststart)+len(spec.Hooks.Poststop) > 0):
		return "hooks"
	case spec.Process == nil || spec.Process.ExecCPUAffinity != nil:
		return "no process, or an initial CPU affinity"
	case len(spec.Linux.UIDMappings)+len(spec.Linux.GIDMappings) > 0:
		return "id mappings"
	case path.Dir(spec.Linux.CgroupsPath) != s.parent:
		return "another cgroup parent"
	}
	for _, t := range spareNamespaces {
		if !hasNewNamespace(spec, t) {
			return "no new " + string(t) + " namespace"
		}
	}
	for _, ns := range spec.Linux.Namespaces {
		switch ns.Type {
		case specs.MountNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace:
		case specs.NetworkNamespace:
			if ns.Path == "" {
				return "a new network namespace"
			}
		default:
			return "a " + string(ns.Type) + " namespace"
		}
	}
	// What the init reaches by path must be what the host has there.
	if !s.seesSame(bundle) {
		return "the bundle is not in the spare's mount namespace"
	}
	for _, m := range spec.Mounts {
		if !mountIsBind(m) {
			continue
		}
		fi, err := os.Stat(m.Source)
		if err != nil || fi.IsDir() || !s.seesSame(m.Source) {
			return "a bind mount of a directory, or of a file the spare does not see"
		}
	}
	return ""
}

// seesSame tells whether the spare init's mount namespace resolves p to
// the file the runtime's does.
func (s *spareInit) seesSame(p string) bool {
	var mine, theirs unix.Stat_t
	if unix.Stat(p, &mine) != nil {
		return false
	}
	if unix.Stat("/proc/"+strconv.Itoa(s.sp.pid)+"/root"+filepath.Clean("/"+p), &theirs) != nil {
		return false
	}
	return mine.Dev == theirs.Dev && mine.Ino == theirs.Ino
}

// discard ends the spare init and removes its cgroup.
func (s *spareInit) discard() {
	if s == nil {
		return
	}
	s.sp.sync.Close()
	unix.Kill(s.sp.pid, unix.SIGKILL)
	waitChild(s.sp.pid)
	_ = destroyCgroup(s.cg)
}

// passedFDs collects the descriptors that follow an adopted spare's
// config, and records their places in it.
type passedFDs struct {
	files []int
	close []int // opened here, closed once sent
}

func (p *passedFDs) add(fd int) int {
	p.files = append(p.files, fd)
	return len(p.files) - 1
}

// adoptSpare hands the container to s: req says what spawn would have
// given a new init, rootfs and netns where the init finds its root
// filesystem and network namespace. It fills cfg's descriptor fields with
// places in the list it returns, which goes after the config.
func adoptSpare(s *spareInit, req spawnRequest, cfg *initConfig, rootfs, netns string) (*spawned, *passedFDs, error) {
	p := &passedFDs{}
	fail := func(err error) (*spawned, *passedFDs, error) {
		p.release()
		return nil, nil, err
	}
	p.add(int(req.stdin.Fd()))
	p.add(int(req.stdout.Fd()))
	p.add(int(req.stderr.Fd()))
	cfg.ConsoleFD, cfg.ListenFD, cfg.LatePidsFD, cfg.NetNSFD = -1, -1, -1, -1
	if req.console != nil {
		cfg.ConsoleFD = p.add(int(req.console.Fd()))
	}
	if req.listener != nil {
		cfg.ListenFD = p.add(int(req.listener.Fd()))
	}
	if req.late != nil {
		f, err := req.late.open()
		if err != nil {
			return fail(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			return fail(err)
		}
		p.close = append(p.close, fd)
		cfg.LatePidsFD = p.add(fd)
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, rootfs, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fail(fmt.Errorf("open_tree %s: %w", rootfs, err))
	}
	p.close = append(p.close, tree)
	cfg.RootfsFD = p.add(tree)
	if netns != "" {
		fd, err := unix.Open(netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("open network namespace %s: %w", netns, err))
		}
		p.close = append(p.close, fd)
		cfg.NetNSFD = p.add(fd)
	}
	if req.beforeConfig != nil {
		if err := req.beforeConfig(); err != nil {
			return fail(err)
		}
	}
	if req.oomScoreAdj != nil {
		path := "/proc/" + strconv.Itoa(s.sp.pid) + "/oom_score_adj"
		if err := os.WriteFile(path, []byte(strconv.Itoa(*req.oomScoreAdj)), 0); err != nil {
			return fail(fmt.Errorf("set oom_score_adj %d: %w", *req.oomScoreAdj, err))
		}
	}
	cfg.Passed = len(p.files)
	return s.sp, p, nil
}

// send passes the descriptors to the init, after its config.
func (p *passedFDs) send(sync *os.File) error {
	defer p.release()
	if err := unix.Sendmsg(int(sync.Fd()), []byte("fds"), unix.UnixRights(p.files...), nil, 0); err != nil {
		return fmt.Errorf("send the init its descriptors: %w", err)
	}
	return nil
}

func (p *passedFDs) release() {
	for _, fd := range p.close {
		unix.Close(fd)
	}
	p.close = nil
}

// receivePassed installs, in the init, the descriptors an adopted spare
// gets after its config: stdio in place, the others where cfg says.
func receivePassed(sync *os.File, cfg *initConfig) error {
	if cfg.Passed < 3 || cfg.Passed > 16 {
		return fmt.Errorf("init config: %d descriptors passed", cfg.Passed)
	}
	buf := make([]byte, 8)
	n, _, fds, err := RecvFDs(int(sync.Fd()), buf, cfg.Passed)
	if err != nil {
		return fmt.Errorf("receive descriptors: %w", err)
	}
	if string(buf[:n]) != "fds" || len(fds) != cfg.Passed {
		return fmt.Errorf("receive descriptors: got %d, want %d", len(fds), cfg.Passed)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fds[i], i, 0); err != nil {
			return fmt.Errorf("install stdio: %w", err)
		}
		unix.Close(fds[i])
	}
	at := func(i int) int {
		if i < 3 || i >= len(fds) {
			return -1
		}
		return fds[i]
	}
	cfg.ConsoleFD, cfg.ListenFD, cfg.LatePidsFD = at(cfg.ConsoleFD), at(cfg.ListenFD), at(cfg.LatePidsFD)
	cfg.RootfsFD, cfg.NetNSFD = at(cfg.RootfsFD), at(cfg.NetNSFD)
	if cfg.NetNSFD >= 0 {
		// Only this thread, which does everything from here to execve.
		err := unix.Setns(cfg.NetNSFD, unix.CLONE_NEWNET)
		unix.Close(cfg.NetNSFD)
		cfg.NetNSFD = -1
		if err != nil {
			return fmt.Errorf("enter the network namespace: %w", err)
		}
	}
	return nil
}

// returnSpare puts back a spare init takeSpare gave out but the create
// could not use, for DropSpare.
func returnSpare(s *spareInit) {
	spareMu.Lock()
	old := pendingSpare
	pendingSpare = s
	spareMu.Unlock()
	old.discard()
}

// namespacePath is the path of the spec's namespace of type t to join,
// "" when it makes a new one or has none.
func namespacePath(spec *specs.Spec, t specs.LinuxNamespaceType) string {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// staleSpareAge is how old a spare's cgroup must be to be taken for one
// whose runtime was killed: a live runtime's spare holds its init, and
// rmdir refuses a cgroup with processes, but for a moment after its
// mkdir it is empty.
const staleSpareAge = time.Minute

// removeStaleSpares removes the empty spare cgroups under parent that a
// killed warm runtime left (its init exits when the runtime does).
func removeStaleSpares(layout *cgroups.Layout, parent string) {
	var mounts []string
	for _, h := range layout.V1 {
		mounts = append(mounts, h.Mountpoint)
	}
	if layout.Unified != nil {
		mounts = append(mounts, layout.Unified.Mountpoint)
	}
	if len(mounts) == 0 {
		return
	}
	entries, err := os.ReadDir(filepath.Join(mounts[0], parent))
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), SparePrefix) {
			continue
		}
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < staleSpareAge {
			continue
		}
		for _, m := range mounts {
			_ = unix.Rmdir(filepath.Join(m, parent, e.Name()))
		}
	}
}
