package runtime

import (
	goruntime "runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A created init that waits for its start used to make the process's last
// steps after the start came: resource limits, capabilities, the user,
// no_new_privs, the seccomp filter (finalize_linux.go), 0.3-0.4 ms of the
// start's path, half of it the kernel's compile of the filter. None of it
// needs to wait: the process's code runs only after the exec, and what
// the init does meanwhile (wait for a connection, read one frame, exec,
// or report an error and exit) needs no privilege. So where that is
// safe, the init makes those steps before it reports ready, on its locked
// thread, as before, and the start is only the exec. It is safe unless:
//
//   - startContainer hooks run at the start, inside the container, with
//     the init's privileges;
//   - the container joins a mount namespace rather than making its own:
//     what the finalization reads (/proc/self/fd where close_range is
//     refused) is the other namespace's, which may not be ready at create;
//   - the filter hands a notify listener over the start's connection;
//   - a resource limit could stop the waiting Go runtime (address space,
//     data, stack, locked memory, file size, CPU time, or fewer than
//     earlyMinFiles open files), or keep it from starting a thread while
//     it waits (a pids limit, written early too, or RLIMIT_NPROC, below
//     earlyMinTasks: a thread that cannot be made aborts the init, as
//     `docker run --init --pids-limit 4` once did in CI);
//   - the filter could refuse a system call the waiting init makes
//     (waitingSyscalls): every one must be allowed outright.
//
// The other Go threads keep the runtime's credentials until the exec
// discards them, as they did; only the locked thread runs the init's code.

// earlyMinFiles is the fewest open files a waiting init is allowed: it
// accepts the start's connection, and the Go runtime may open more.
const earlyMinFiles = 64

// earlyMinTasks is the lowest pids limit, or RLIMIT_NPROC, a waiting init
// is allowed: the Go runtime starts threads as it needs them (a thread
// to run while another waits in a system call).
const earlyMinTasks = 64

// waitingSyscalls are the system calls the init's locked thread may make
// between its early finalization and the exec: the wait (poll, accept4,
// read), the error report (write, exit_group), and the Go runtime's own
// (memory, futexes, signals, yields).
var waitingSyscalls = []string{
	"accept4", "close", "execve", "exit", "exit_group", "fcntl", "futex",
	"getpid", "gettid", "madvise", "mmap", "mprotect", "munmap", "nanosleep",
	"ppoll", "read", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sched_yield", "sigaltstack", "tgkill", "write", "clock_gettime",
	"epoll_ctl", "epoll_pwait",
}

// waitingSyscallsAMD64 are those x86-64 has besides (arm64 has neither).
var waitingSyscallsAMD64 = []string{"poll", "epoll_wait"}

// finalizeEarly reports whether the spec's container init may finalize
// before it waits for the start.
func finalizeEarly(s *specs.Spec) bool {
	p := s.Process
	if p == nil {
		return false
	}
	if s.Hooks != nil && len(s.Hooks.StartContainer) > 0 {
		return false
	}
	if !hasNewNamespace(s, specs.MountNamespace) {
		return false
	}
	for _, rl := range p.Rlimits {
		switch rl.Type {
		case "RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_MEMLOCK", "RLIMIT_FSIZE", "RLIMIT_CPU", "RLIMIT_RSS":
			return false
		case "RLIMIT_NOFILE":
			if rl.Soft < earlyMinFiles {
				return false
			}
		case "RLIMIT_NPROC":
			if rl.Soft < earlyMinTasks {
				return false
			}
		}
	}
	if s.Linux != nil && s.Linux.Resources != nil && s.Linux.Resources.Pids != nil {
		if l := s.Linux.Resources.Pids.Limit; l != nil && *l > 0 && *l < earlyMinTasks {
			return false
		}
	}
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return true
	}
	sc := s.Linux.Seccomp
	if usesNotify(sc) {
		return false
	}
	names := waitingSyscalls
	if goruntime.GOARCH == "amd64" {
		names = append(names[:len(names):len(names)], waitingSyscallsAMD64...)
	}
	for _, name := range names {
		if !allowedOutright(sc, name) {
			return false
		}
	}
	return true
}

// allowedOutright reports whether the filter allows the system call
// whatever its arguments: every rule naming it allows it, and unless the
// default allows it, one rule does so without conditions on the arguments.
func allowedOutright(sc *specs.LinuxSeccomp, name string) bool {
	unconditional := allows(sc.DefaultAction)
	for _, rule := range sc.Syscalls {
		if !slices.Contains(rule.Names, name) {
			continue
		}
		if !allows(rule.Action) {
			return false
		}
		if len(rule.Args) == 0 {
			unconditional = true
		}
	}
	return unconditional
}

func allows(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog
}
