package seccomp

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/berth-project/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// Load installs the filter on the calling thread with seccomp(2), passing the
// configured flags (SECCOMP_FILTER_FLAG_NEW_LISTENER too when a rule uses
// SCMP_ACT_NOTIFY). It returns the listener fd (close-on-exec, as the kernel
// creates it), or -1 when no rule notifies.
//
// The caller must have locked the goroutine to its OS thread
// (runtime.LockOSThread) unless SECCOMP_FILTER_FLAG_TSYNC is set, and must
// have set no_new_privs (prctl PR_SET_NO_NEW_PRIVS) or hold CAP_SYS_ADMIN:
// Load does not set no_new_privs itself, since whether the container gets it
// is the spec's process.noNewPrivileges, not the filter's business.
//
// When seccomp(2) is missing (ENOSYS, kernels before 3.17) and no flags are
// needed, Load falls back to prctl(PR_SET_SECCOMP). Errors: ErrForbidden
// without no_new_privs or CAP_SYS_ADMIN; ErrNotImplemented when the kernel
// lacks seccomp or a requested flag; ErrConflict when TSYNC cannot
// synchronise a thread or a listener already exists in the filter chain.
func (f *Filter) Load() (listenerFD int, err error) {
	if len(f.prog) == 0 {
		return -1, fmt.Errorf("seccomp: load: filter was not built by Compile: %w", errdefs.ErrInvalidParameter)
	}
	prog := unix.SockFprog{Len: uint16(len(f.prog)), Filter: &f.prog[0]}
	defer runtime.KeepAlive(f)

	flags := f.flags | f.implied
	r, errno := seccompFilter(flags, &prog)
	if errno == unix.EINVAL && f.implied != 0 {
		// Flags we add by default are a nicety: a kernel that lacks
		// them (SPEC_ALLOW needs 4.17) still gets the filter.
		flags = f.flags
		r, errno = seccompFilter(flags, &prog)
	}
	if errno == unix.ENOSYS && f.flags == 0 {
		_, _, errno = unix.Syscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)))
		if errno != 0 {
			return -1, loadError("prctl(PR_SET_SECCOMP)", 0, errno)
		}
		return -1, nil
	}
	if errno != 0 {
		return -1, loadError("seccomp(SECCOMP_SET_MODE_FILTER)", flags, errno)
	}
	if flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return int(r), nil
	}
	if r != 0 {
		// Plain TSYNC reports the thread it could not synchronise by
		// returning its id instead of failing with an errno.
		return -1, fmt.Errorf("seccomp: load with flags %s: thread %d could not be synchronised: %w",
			flagNames(flags), r, errdefs.ErrConflict)
	}
	return -1, nil
}

func seccompFilter(flags uint, prog *unix.SockFprog) (uintptr, unix.Errno) {
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(prog)))
	return r, errno
}

func loadError(op string, flags uint, errno unix.Errno) error {
	var class error
	why := ""
	switch errno {
	case unix.EACCES:
		class, why = errdefs.ErrForbidden, " (needs no_new_privs or CAP_SYS_ADMIN)"
	case unix.EINVAL, unix.ENOSYS:
		class, why = errdefs.ErrNotImplemented, " (kernel lacks seccomp filters or one of the flags)"
	case unix.ESRCH:
		class, why = errdefs.ErrConflict, " (TSYNC: another thread has a diverging filter)"
	case unix.EBUSY:
		class, why = errdefs.ErrConflict, " (a filter with a listener is already installed)"
	case unix.ENOMEM:
		class = errdefs.ErrUnavailable
	}
	err := fmt.Errorf("seccomp: load with flags %s%s: %w", flagNames(flags), why, os.NewSyscallError(op, errno))
	if class != nil {
		err = fmt.Errorf("%w: %w", err, class)
	}
	return err
}

// flagNames prints seccomp(2) flags by name.
func flagNames(flags uint) string {
	names := []struct {
		bit  uint
		name string
	}{
		{unix.SECCOMP_FILTER_FLAG_TSYNC, "TSYNC"},
		{unix.SECCOMP_FILTER_FLAG_LOG, "LOG"},
		{unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SPEC_ALLOW"},
		{unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, "NEW_LISTENER"},
		{unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "TSYNC_ESRCH"},
		{unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "WAIT_KILLABLE_RECV"},
	}
	var out []string
	for _, n := range names {
		if flags&n.bit != 0 {
			out = append(out, n.name)
			flags &^= n.bit
		}
	}
	if flags != 0 {
		out = append(out, fmt.Sprintf("%#x", flags))
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, "|")
}
