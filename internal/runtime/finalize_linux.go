package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The last steps before execve run on the init's locked OS thread, with raw
// per-thread system calls: credentials, capabilities, no_new_privs and the
// seccomp filter are all per-thread in the kernel, and this is the thread
// that calls execve, which discards every other thread.

// execProcess is a process ready to replace the init.
type execProcess struct {
	// latePidsFD and latePidsValue: see pids_linux.go.
	latePidsFD    int
	latePidsValue string
	p             *specs.Process
	path          string // resolved args[0]
	env           []string
	seccomp       *seccomp.Filter
	preserveFDs   int
}

// compileSeccomp compiles the spec's filter, in the runtime's process, or
// finds it compiled in the state root's cache (seccompcache_linux.go).
func compileSeccomp(root string, s *specs.Spec) ([]byte, error) {
	if s == nil || s.Linux == nil || s.Linux.Seccomp == nil {
		return nil, nil
	}
	cache := newSeccompCache(root, s.Linux.Seccomp)
	if b := cache.load(); b != nil {
		var f seccomp.Filter
		if f.UnmarshalBinary(b) == nil {
			return b, nil
		}
	}
	f, err := seccomp.Compile(s.Linux.Seccomp)
	if err != nil {
		return nil, err
	}
	b, err := f.MarshalBinary()
	if err == nil {
		cache.store(b)
	}
	return b, err
}

// compiledSeccomp is a filter being compiled in the background.
type compiledSeccomp struct {
	done   chan struct{}
	filter []byte
	err    error
}

func compileSeccompInBackground(root string, s *specs.Spec) *compiledSeccomp {
	c := &compiledSeccomp{done: make(chan struct{})}
	go func() {
		c.filter, c.err = compileSeccomp(root, s)
		close(c.done)
	}()
	return c
}

// wait returns the compiled filter (nil: none).
func (c *compiledSeccomp) wait() ([]byte, error) {
	<-c.done
	return c.filter, c.err
}

// newExecProcess prepares the process; the filter was compiled by the
// runtime.
func newExecProcess(p *specs.Process, filter []byte, preserveFDs int) (*execProcess, error) {
	ep := &execProcess{p: p, preserveFDs: preserveFDs, latePidsFD: -1}
	if len(filter) > 0 {
		ep.seccomp = &seccomp.Filter{}
		if err := ep.seccomp.UnmarshalBinary(filter); err != nil {
			return nil, err
		}
	}
	return ep, nil
}

// resolve enters the working directory and finds the executable: at
// create, or at start after the startContainer hooks, which may provide
// either.
func (ep *execProcess) resolve() error {
	p := ep.p
	if err := unix.Chdir(p.Cwd); err != nil {
		return fmt.Errorf("chdir to cwd %q: %w", p.Cwd, err)
	}
	if err := checkCwdInRoot(); err != nil {
		return err
	}
	ep.env = withHome(p.Env, p.User.UID)
	path, err := lookPath(p.Args[0], ep.env)
	if err != nil {
		return err
	}
	ep.path = path
	return nil
}

// checkCwdInRoot refuses a working directory outside the container's root
// (the CVE-2024-21626 class: a leaked host directory fd used as cwd).
func checkCwdInRoot() error {
	buf := make([]byte, 4096)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("getcwd: %w", err)
	}
	if n == 0 || buf[0] != '/' {
		return fmt.Errorf("working directory is outside the container root: %w", errdefs.ErrForbidden)
	}
	return nil
}

// lookPath finds an executable as execvp would, with the container's PATH.
func lookPath(file string, env []string) (string, error) {
	if file == "" {
		return "", fmt.Errorf("process.args[0] is empty: %w", errdefs.ErrInvalidParameter)
	}
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", fmt.Errorf("exec %q: %w", file, err)
		}
		return file, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		candidate := dir + "/" + file
		if checkExecutable(candidate) == nil {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("exec %q: executable file not found in $PATH: %w", file, errdefs.ErrNotFound)
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("is a directory")
	}
	if st.Mode()&0o111 == 0 {
		return fmt.Errorf("permission denied")
	}
	return nil
}

// withHome adds HOME from the container's /etc/passwd when the process
// environment lacks it, as a login would.
func withHome(env []string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	home := "/"
	if f, err := os.Open("/etc/passwd"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 6 && fields[2] == strconv.FormatUint(uint64(uid), 10) && fields[5] != "" {
				home = fields[5]
				break
			}
		}
		f.Close()
	}
	return append(append([]string(nil), env...), "HOME="+home)
}

// finalizeAndExec applies the process's identity and restrictions and
// execs it. It returns only on failure.
func (ep *execProcess) finalizeAndExec(notify func(listener int) error) error {
	if err := ep.finalize(notify); err != nil {
		return err
	}
	return ep.exec()
}

// finalize applies the process's identity and restrictions, on the thread
// that will exec it: just before the exec, or before the wait for the
// start where that is safe (earlyfinalize.go).
func (ep *execProcess) finalize(notify func(listener int) error) error {
	p := ep.p
	// Still root: the write needs it. Nothing after this makes processes,
	// and this thread is the one that execs.
	if err := applyLatePids(ep.latePidsFD, ep.latePidsValue); err != nil {
		return fmt.Errorf("join the pids limit: %w", err)
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := setIOPriority(p.IOPriority); err != nil {
		return err
	}
	if err := setScheduler(p.Scheduler); err != nil {
		return err
	}
	if err := applyLSM(p); err != nil {
		return err
	}
	if err := chownStdio(p.User.UID); err != nil {
		return err
	}

	caps, err := parseProcessCaps(p.Capabilities)
	if err != nil {
		return err
	}
	if err := prctl(unix.PR_SET_KEEPCAPS, 1); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	if caps != nil {
		if err := dropBounding(caps.bounding); err != nil {
			return err
		}
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the user switch is about to drop: load it now.
	if ep.seccomp != nil && !p.NoNewPrivileges {
		if err := ep.loadSeccomp(notify); err != nil {
			return err
		}
	}
	if err := setUser(p.User); err != nil {
		return err
	}
	if err := prctl(unix.PR_SET_KEEPCAPS, 0); err != nil {
		return fmt.Errorf("clear keep capabilities: %w", err)
	}
	if caps != nil {
		if err := caps.apply(); err != nil {
			return err
		}
	}
	if p.NoNewPrivileges {
		if err := prctl(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if p.ExecCPUAffinity != nil && p.ExecCPUAffinity.Final != "" {
		set, err := parseCPUList(p.ExecCPUAffinity.Final)
		if err != nil {
			return err
		}
		if err := unix.SchedSetaffinity(0, set); err != nil {
			return fmt.Errorf("set cpu affinity %s: %w", p.ExecCPUAffinity.Final, err)
		}
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	} else {
		unix.Umask(0o022)
	}
	// Nothing of the runtime's may reach the process but stdio and the
	// fds it was asked to pass.
	if err := closeExtraFDs(3 + ep.preserveFDs); err != nil {
		return err
	}
	if ep.seccomp != nil && p.NoNewPrivileges {
		if err := ep.loadSeccomp(notify); err != nil {
			return err
		}
	}
	return nil
}

// exec replaces the init with the process. It returns only on failure.
func (ep *execProcess) exec() error {
	err := unix.Exec(ep.path, ep.p.Args, ep.env)
	return fmt.Errorf("exec %s: %w", ep.path, err)
}

func (ep *execProcess) loadSeccomp(notify func(int) error) error {
	fd, err := ep.seccomp.Load()
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	if fd >= 0 {
		defer unix.Close(fd)
		if notify == nil {
			return errors.New("seccomp notify listener has nowhere to go")
		}
		if err := notify(fd); err != nil {
			return err
		}
	}
	return nil
}

func prctl(option int, arg uintptr) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PRCTL, uintptr(option), arg, 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// setUser switches credentials on this thread only (raw system calls; see
// the comment at the top of the file).
// chownStdio gives the process's stdio to its user, as runc does: a
// non-root process can then reopen them (echo > /dev/stdout, a log file
// named /proc/self/fd/1) and use its own terminal. /dev/null and what the
// user owns already are left alone, and so is the group (a pty keeps the
// tty group). An owner the kernel refuses (unmapped in a user namespace,
// a read-only file system) is not an error: the process only loses the
// convenience.
func chownStdio(uid uint32) error {
	// The null device's number, not a stat of /dev/null: a container that
	// joins another's mount namespace may have none (yet) where it stands.
	nullDev := unix.Mkdev(1, 3)
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("stat fd %d: %w", fd, err)
		}
		if st.Uid == uid || (st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == nullDev) {
			continue
		}
		err := unix.Fchown(fd, int(uid), -1)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("chown fd %d to %d: %w", fd, uid, err)
		}
	}
	return nil
}

func setUser(u specs.User) error {
	groups := make([]uint32, len(u.AdditionalGids))
	copy(groups, u.AdditionalGids)
	var gp unsafe.Pointer
	if len(groups) > 0 {
		gp = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(gp), 0); e != 0 {
		// A user namespace with setgroups denied refuses even an empty
		// list; that only matters when groups were asked for.
		if !(e == unix.EPERM && len(groups) == 0) {
			return fmt.Errorf("setgroups %v: %w", groups, e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setresgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setresuid %d: %w", u.UID, e)
	}
	return nil
}

type processCaps struct {
	bounding, effective, permitted, inheritable, ambient capSet
}

func parseProcessCaps(c *specs.LinuxCapabilities) (*processCaps, error) {
	if c == nil {
		return nil, nil
	}
	var pc processCaps
	var err error
	for _, f := range []struct {
		name  string
		names []string
		dst   *capSet
	}{
		{"bounding", c.Bounding, &pc.bounding}, {"effective", c.Effective, &pc.effective},
		{"permitted", c.Permitted, &pc.permitted}, {"inheritable", c.Inheritable, &pc.inheritable},
		{"ambient", c.Ambient, &pc.ambient},
	} {
		if *f.dst, err = parseCapabilities(f.name, f.names); err != nil {
			return nil, err
		}
	}
	return &pc, nil
}

func lastCap() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return n
		}
	}
	return len(capabilityNames) - 1
}

func dropBounding(keep capSet) error {
	last := lastCap()
	for c := 0; c <= last; c++ {
		if keep.has(c) {
			continue
		}
		if err := prctl(unix.PR_CAPBSET_DROP, uintptr(c)); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break
			}
			return fmt.Errorf("drop %s from the bounding set: %w", capabilityName(c), err)
		}
	}
	return nil
}

func (pc *processCaps) apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		data[i].Effective = uint32(pc.effective >> (32 * i))
		data[i].Permitted = uint32(pc.permitted >> (32 * i))
		data[i].Inheritable = uint32(pc.inheritable >> (32 * i))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	if err := prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	// The kernel raises an ambient capability only if it is permitted and
	// inheritable; configs (runc's default spec among them) often list
	// ambient capabilities without the inheritable bit, and runc skips
	// those, so we do too rather than fail the container.
	raise := pc.ambient & pc.permitted & pc.inheritable
	for c := 0; c < 64; c++ {
		if !raise.has(c) {
			continue
		}
		_, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0, 0)
		if e != 0 {
			return fmt.Errorf("raise ambient %s: %w", capabilityName(c), e)
		}
	}
	return nil
}

func setRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		res, ok := rlimitResources.lookup(l.Type)
		if !ok {
			return fmt.Errorf("rlimit %s is unknown: %w", l.Type, errdefs.ErrInvalidParameter)
		}
		rl := unix.Rlimit{Cur: l.Soft, Max: l.Hard}
		if err := unix.Prlimit(0, res, &rl, nil); err != nil {
			return fmt.Errorf("set %s to %d/%d: %w", l.Type, l.Soft, l.Hard, err)
		}
	}
	return nil
}

func setIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	const whoProcess = 1
	class := ioPrioClasses.get(p.Class)
	prio := uintptr(class)<<13 | uintptr(p.Priority)
	if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, whoProcess, 0, prio); e != 0 {
		return fmt.Errorf("ioprio_set %s/%d: %w", p.Class, p.Priority, e)
	}
	return nil
}

// schedAttr is struct sched_attr (include/uapi/linux/sched/types.h).
type schedAttr struct {
	Size     uint32
	Policy   uint32
	Flags    uint64
	Nice     int32
	Priority uint32
	Runtime  uint64
	Deadline uint64
	Period   uint64
	UtilMin  uint32
	UtilMax  uint32
}

func setScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	attr := schedAttr{Policy: schedPolicies.get(s.Policy), Nice: s.Nice, Priority: uint32(s.Priority),
		Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
	attr.Size = uint32(unsafe.Sizeof(attr))
	for _, f := range s.Flags {
		attr.Flags |= schedFlags.get(f)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETATTR, 0, uintptr(unsafe.Pointer(&attr)), 0); e != 0 {
		return fmt.Errorf("sched_setattr %s: %w", s.Policy, e)
	}
	return nil
}

// applyLSM asks for an AppArmor profile or SELinux label for the exec. A
// profile on a host without AppArmor is an error: running unconfined
// instead would be a silent downgrade.
func applyLSM(p *specs.Process) error {
	if p.ApparmorProfile != "" {
		enabled, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled")
		if strings.TrimSpace(string(enabled)) != "Y" {
			return fmt.Errorf("apparmor profile %q requested but AppArmor is not enabled on this host: %w", p.ApparmorProfile, errdefs.ErrNotImplemented)
		}
		if err := writeProcAttr("apparmor/exec", "exec "+p.ApparmorProfile); err != nil {
			return fmt.Errorf("apply apparmor profile %q: %w", p.ApparmorProfile, err)
		}
	}
	if p.SelinuxLabel != "" {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
			return nil // SELinux off: labels mean nothing, as runc treats them
		}
		if err := writeProcAttr("exec", p.SelinuxLabel); err != nil {
			return fmt.Errorf("apply selinux label %q: %w", p.SelinuxLabel, err)
		}
	}
	return nil
}

func writeProcAttr(attr, value string) error {
	tid := unix.Gettid()
	return os.WriteFile(fmt.Sprintf("/proc/self/task/%d/attr/%s", tid, attr), []byte(value), 0)
}

// closeExtraFDs marks every fd from first on close-on-exec.
func closeExtraFDs(first int) error {
	err := unix.CloseRange(uint(first), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	entries, derr := os.ReadDir("/proc/self/fd")
	if derr != nil {
		return fmt.Errorf("close_range: %v; list fds: %w", err, derr)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < first {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}
