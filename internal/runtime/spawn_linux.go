package runtime

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/runtime/cgroups"
	"github.com/berth-project/berth/internal/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// spawnRequest describes a process to start in a container: the init of a
// new container, or a process joining a running one.
type spawnRequest struct {
	bootstrap   nsenter.Bootstrap
	uidMappings []specs.LinuxIDMapping
	gidMappings []specs.LinuxIDMapping
	// cgroup is the cgroup the process enters (nil: stay in the
	// runtime's); its directories must exist.
	cgroup cgroups.Manager
	// beforeBootstrap runs once the first stage is forked and before it
	// is told its cgroups (the directories are made in parallel).
	beforeBootstrap func() error
	// beforeConfig runs once the init exists and before it gets its
	// config (and starts setting up the container): the resource limits
	// are applied in parallel until then.
	beforeConfig func() error
	stdin        *os.File
	stdout       *os.File
	stderr       *os.File
	preserveFDs  int
	console      *os.File // connected console socket, or nil
	listener     *os.File // start socket (create only), or nil
	oomScoreAdj  *int
	initialCPUs  string
	// spareDir is an empty directory for the binary's read-only overlay.
	spareDir string
	// late is the pids limit the init applies as it execs (pids_linux.go).
	late *latePids
	// awaitsStart: the init will wait for a start command (startwait_linux.go).
	awaitsStart bool
}

// spawned is a started process, paused in its init until configured.
type spawned struct {
	pid       int
	sync      *os.File // the runtime's end of the sync socket
	consoleFD int      // numbers in the child, -1 when absent
	listenFD  int
	lateFD    int
}

// spawn starts a sealed copy of this binary as "init"; the nsenter
// constructor places it in its namespaces and reports the pid of the
// process that will become the container's.
func spawn(req spawnRequest) (_ *spawned, retErr error) {
	exe, err := protectedSelf(req.spareDir)
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sync socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "sync-parent")
	child := os.NewFile(uintptr(fds[1]), "sync-child")
	defer child.Close()
	defer func() {
		if retErr != nil {
			parent.Close()
		}
	}()

	var extra []*os.File
	for i := 0; i < req.preserveFDs; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
	}
	syncFD := 3 + len(extra)
	extra = append(extra, child)
	sp := &spawned{sync: parent, consoleFD: -1, listenFD: -1, lateFD: -1}
	if req.console != nil {
		sp.consoleFD = 3 + len(extra)
		extra = append(extra, req.console)
	}
	if req.listener != nil {
		sp.listenFD = 3 + len(extra)
		extra = append(extra, req.listener)
	}
	if req.late != nil {
		f, err := req.late.open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sp.lateFD = 3 + len(extra)
		extra = append(extra, f)
	}
	// Execute the memfd through an fd number the child's dup2s of stdio
	// and extra files cannot land on.
	exeFD, err := unix.FcntlInt(exe.Fd(), unix.F_DUPFD_CLOEXEC, 3+len(extra)+8)
	if err != nil {
		return nil, fmt.Errorf("dup executable fd: %w", err)
	}
	defer unix.Close(exeFD)

	// The cgroup2 part of the cgroup is entered at fork (clone3 with
	// CLONE_INTO_CGROUP), the v1 hierarchies by the stage itself
	// (nsexec.c, join_cgroups): nobody ever moves another process, which
	// would wait for an RCU grace period (see join_cgroups).
	bs := req.bootstrap
	sys := &syscall.SysProcAttr{}
	if req.cgroup != nil {
		var v2 string
		bs.CgroupV1, v2 = cgroupDirs(req.cgroup.Paths())
		if v2 != "" {
			dir, err := os.Open(v2)
			if err != nil {
				return nil, fmt.Errorf("open cgroup %s: %w", v2, err)
			}
			defer dir.Close()
			sys.UseCgroupFD, sys.CgroupFD = true, int(dir.Fd())
		}
	}
	// ForkExec hands the child every descriptor without close-on-exec, not
	// only files: whatever our caller leaked to us (a host directory, say)
	// would sit in the init until it execs, reachable from the container
	// through /proc/1/fd (the CVE-2024-21626 class). Only files may cross;
	// ForkExec clears the flag on those it places.
	if err := closeExtraFDs(3); err != nil {
		return nil, fmt.Errorf("mark descriptors close-on-exec: %w", err)
	}
	// syscall.ForkExec rather than os/exec: os/exec probes pidfd support
	// with an extra fork on first use, on the container-start hot path.
	files := []uintptr{req.stdin.Fd(), req.stdout.Fd(), req.stderr.Fd()}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	// One P: the init does one thing at a time, and every extra thread is
	// one more that execve must kill and wait for.
	env := []string{nsenter.EnvInitPipe + "=" + strconv.Itoa(syncFD), "GOMAXPROCS=1"}
	if req.awaitsStart {
		env = append(env, envAwaitsStart+"=1")
	}
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   sys,
	}
	stagePid, err := syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(exeFD), []string{"berth-runtime", "init"}, attr)
	for try := 1; errors.Is(err, syscall.EACCES) && try < 5; try++ {
		// Seen rarely (a few times in thousands of starts, on the CI
		// host's kernel and in the VM's, once twice in a row), not yet
		// explained: the starts before and after it work. A failed
		// ForkExec leaves no child, so trying again is safe; a lasting
		// refusal fails as before.
		time.Sleep(time.Duration(try) * time.Millisecond)
		stagePid, err = syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(exeFD), []string{"berth-runtime", "init"}, attr)
	}
	if errors.Is(err, syscall.EACCES) {
		// Once it lasted all five tries (in the cgroup v2 VM). The view
		// of the binary through its detached overlay is the one part of
		// the exec that is ours; a sealed copy is the other way to run it.
		stagePid, err = forkExecCopy(exeFD, attr)
	}
	if err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	// Only the stage holds its end now: a stage that dies before it
	// reports is then an EOF on ours, not a wait for ever.
	child.Close()
	stageDone := false
	reapStage := func() error {
		if stageDone {
			return nil
		}
		stageDone = true
		ws, err := waitChild(stagePid)
		if err != nil {
			return err
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return fmt.Errorf("init stage exited with status %v", ws)
		}
		return nil
	}
	initPid := 0
	defer func() {
		if retErr != nil {
			unix.Kill(stagePid, unix.SIGKILL)
			if initPid > 0 {
				unix.Kill(initPid, unix.SIGKILL)
				waitChild(initPid)
			}
			reapStage()
		}
	}()
	if req.initialCPUs != "" {
		set, err := parseCPUList(req.initialCPUs)
		if err != nil {
			return nil, err
		}
		if err := unix.SchedSetaffinity(stagePid, set); err != nil {
			return nil, fmt.Errorf("set initial cpu affinity: %w", err)
		}
	}
	if req.beforeBootstrap != nil {
		if err := req.beforeBootstrap(); err != nil {
			return nil, err
		}
	}
	stage := nsenter.NewStage(parent, func(pid int) error {
		return writeIDMappings(pid, req.uidMappings, req.gidMappings)
	})
	initPid, err = stage.Run(bs)
	if err != nil {
		return nil, err
	}
	if err := reapStage(); err != nil {
		return nil, err
	}
	if req.beforeConfig != nil {
		if err := req.beforeConfig(); err != nil {
			return nil, err
		}
	}
	sp.pid = initPid
	if req.oomScoreAdj != nil {
		path := "/proc/" + strconv.Itoa(initPid) + "/oom_score_adj"
		if err := os.WriteFile(path, []byte(strconv.Itoa(*req.oomScoreAdj)), 0); err != nil {
			return nil, fmt.Errorf("set oom_score_adj %d: %w", *req.oomScoreAdj, err)
		}
	}
	return sp, nil
}

// cgroupDirs sorts a cgroup manager's directories into the v1 ones (one
// per hierarchy) and the cgroup2 one.
func cgroupDirs(paths map[string]string) (v1 []string, v2 string) {
	v2 = paths[""]
	seen := map[string]bool{v2: true}
	for _, dir := range paths {
		if !seen[dir] {
			seen[dir] = true
			v1 = append(v1, dir)
		}
	}
	sort.Strings(v1)
	return v1, v2
}

func writeIDMappings(pid int, uids, gids []specs.LinuxIDMapping) error {
	if len(uids) == 0 || len(gids) == 0 {
		return errors.New("a new user namespace needs uid and gid mappings")
	}
	render := func(ms []specs.LinuxIDMapping) []byte {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		return []byte(b.String())
	}
	base := "/proc/" + strconv.Itoa(pid) + "/"
	if err := os.WriteFile(base+"uid_map", render(uids), 0); err != nil {
		return fmt.Errorf("write uid_map: %w", err)
	}
	if err := os.WriteFile(base+"gid_map", render(gids), 0); err != nil {
		return fmt.Errorf("write gid_map: %w", err)
	}
	return nil
}

// forkExecCopy starts the init from a sealed memfd copy of this binary
// (cloneSelf), for an exec of the overlay's view that was refused. The
// copy is made through an fd number above exeFD, which the child's dup2s
// already leave alone.
func forkExecCopy(exeFD int, attr *syscall.ProcAttr) (int, error) {
	cp, err := cloneSelf()
	if err != nil {
		return 0, err
	}
	defer cp.Close()
	fd, err := unix.FcntlInt(cp.Fd(), unix.F_DUPFD_CLOEXEC, exeFD+1)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	pid, err := syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(fd), []string{"berth-runtime", "init"}, attr)
	if err != nil {
		return 0, fmt.Errorf("from a copy of the binary, after the overlay's view was refused: %w", err)
	}
	return pid, nil
}
