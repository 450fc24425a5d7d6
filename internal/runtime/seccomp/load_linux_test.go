package seccomp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Loading a filter is irreversible, so each load test re-executes the test
// binary: TestMain runs the named child on a locked thread with
// no_new_privs (so no privilege is needed) and exits 0 on success.

const (
	childEnv = "BERTH_SECCOMP_TEST_CHILD"
	dirEnv   = "BERTH_SECCOMP_TEST_DIR"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChildMain(name))
	}
	os.Exit(m.Run())
}

func runChildMain(name string) int {
	runtime.LockOSThread()
	child, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child %q\n", name)
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "no_new_privs: %v\n", err)
		return 2
	}
	if err := child(os.Getenv(dirEnv)); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// runChild runs a child and returns its output and exit status.
func runChild(t *testing.T, name string) (string, syscall.WaitStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, dirEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("child %s: %v", name, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("child %s timed out: %s", name, out)
	}
	return string(out), cmd.ProcessState.Sys().(syscall.WaitStatus)
}

func expectSuccess(t *testing.T, name string) {
	t.Helper()
	out, ws := runChild(t, name)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("child %s: %v\n%s", name, ws, out)
	}
}

func TestLoadErrno(t *testing.T)         { expectSuccess(t, "errno") }
func TestLoadTsync(t *testing.T)         { expectSuccess(t, "tsync") }
func TestLoadNotify(t *testing.T)        { expectSuccess(t, "notify") }
func TestLoadNotifyTsync(t *testing.T)   { expectSuccess(t, "notify-tsync") }
func TestLoadDockerDefault(t *testing.T) { expectSuccess(t, "docker") }

func TestLoadKillProcess(t *testing.T) {
	out, ws := runChild(t, "kill")
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("child: %v, want killed by SIGSYS\n%s", ws, out)
	}
}

func TestLoadUncompiled(t *testing.T) {
	if _, err := (&Filter{}).Load(); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("Load of a zero Filter: %v", err)
	}
}

var children = map[string]func(dir string) error{
	"errno":        childErrno(false),
	"tsync":        childErrno(true),
	"kill":         childKill,
	"notify":       childNotify(false),
	"notify-tsync": childNotify(true),
	"docker":       childDocker,
}

// thread runs functions on another locked OS thread, one that existed
// before the filter was loaded.
type thread struct {
	req chan func() error
	res chan error
}

func startThread() *thread {
	th := &thread{req: make(chan func() error), res: make(chan error)}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(ready)
		for fn := range th.req {
			th.res <- fn()
		}
	}()
	<-ready
	return th
}

func (th *thread) do(fn func() error) error {
	th.req <- fn
	return <-th.res
}

func load(cfg *specs.LinuxSeccomp) (int, error) {
	f, err := Compile(cfg)
	if err != nil {
		return -1, err
	}
	return f.Load()
}

// childErrno: mkdir fails with EXDEV on the loading thread; on another
// thread only with TSYNC.
func childErrno(tsync bool) func(string) error {
	return func(dir string) error {
		cfg := &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV)),
			}},
		}
		if tsync {
			cfg.Flags = []specs.LinuxSeccompFlag{flagTsync}
		}
		other := startThread()
		if fd, err := load(cfg); err != nil || fd != -1 {
			return fmt.Errorf("load: fd %d, %v", fd, err)
		}
		if err := unix.Mkdir(filepath.Join(dir, "a"), 0o755); err != unix.EXDEV {
			return fmt.Errorf("mkdir on the loading thread: %v, want EXDEV", err)
		}
		if err := unix.Rmdir(filepath.Join(dir, "none")); err != unix.ENOENT {
			return fmt.Errorf("rmdir is not filtered, but got %v, want ENOENT", err)
		}
		err := other.do(func() error { return unix.Mkdir(filepath.Join(dir, "b"), 0o755) })
		if tsync && err != unix.EXDEV {
			return fmt.Errorf("mkdir on another thread with TSYNC: %v, want EXDEV", err)
		}
		if !tsync && err != nil {
			return fmt.Errorf("mkdir on another thread without TSYNC: %v, want success", err)
		}
		return nil
	}
}

func childKill(string) error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return err
	}
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActKillProcess}},
	}
	if _, err := load(cfg); err != nil {
		return err
	}
	unix.Getppid()
	return errors.New("survived getppid")
}

// seccompNotif and seccompNotifResp mirror the linux/seccomp.h structs.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	data  seccompData
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// childNotify: a getppid on the loading thread is answered by an agent
// thread reading the listener fd.
func childNotify(tsync bool) func(string) error {
	return func(string) error {
		cfg := &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			ListenerPath:  "/run/agent.sock", // the runtime's business, not ours
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}},
		}
		if tsync {
			cfg.Flags = []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagWaitKillableRecv}
		}
		agent := startThread()
		fd, err := load(cfg)
		if err != nil {
			return err
		}
		if fd < 0 {
			return fmt.Errorf("listener fd %d", fd)
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
			return fmt.Errorf("listener fd flags %#x, %v: want close-on-exec", fl, err)
		}
		const answer = 4242
		done := make(chan error, 1)
		go func() {
			done <- agent.do(func() error {
				var n seccompNotif
				if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n))); e != 0 {
					return fmt.Errorf("NOTIF_RECV: %w", e)
				}
				if n.data.nr != unix.SYS_GETPPID || n.data.arch != nativeArch().audit {
					return fmt.Errorf("notified of nr %d arch %#x", n.data.nr, n.data.arch)
				}
				r := seccompNotifResp{id: n.id, val: answer}
				if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&r))); e != 0 {
					return fmt.Errorf("NOTIF_SEND: %w", e)
				}
				return nil
			})
		}()
		got, _, e := unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
		if err := <-done; err != nil {
			return err
		}
		if e != 0 || got != answer {
			return fmt.Errorf("getppid = %d, %v; want the agent's %d", got, e, answer)
		}
		return nil
	}
}

// childDocker loads docker's default profile and checks what a container
// would see.
func childDocker(dir string) error {
	if runtime.GOARCH != "amd64" {
		return nil // the profile is converted for amd64 below
	}
	cfg, err := convertDockerProfile("amd64", specs.ArchX86_64, dockerDefaultCaps, "6.18")
	if err != nil {
		return err
	}
	if _, err := load(cfg); err != nil {
		return err
	}
	raw := func(nr uintptr, args ...uintptr) error {
		var a [6]uintptr
		copy(a[:], args)
		_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		if e != 0 {
			return e
		}
		return nil
	}
	checks := []struct {
		what string
		err  error
		want error
	}{
		{"mkdir", unix.Mkdir(filepath.Join(dir, "d"), 0o755), nil},
		{"personality(0xffffffff)", raw(unix.SYS_PERSONALITY, 0xffffffff), nil},
		{"personality(0x1234)", raw(unix.SYS_PERSONALITY, 0x1234), unix.EPERM},
		{"unshare(CLONE_NEWUSER)", unix.Unshare(unix.CLONE_NEWUSER), unix.EPERM},
		// Flags the kernel would refuse with EINVAL if they got through.
		{"clone(CLONE_NEWUSER|CLONE_THREAD)", raw(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_THREAD), unix.EPERM},
		{"clone3", raw(unix.SYS_CLONE3, 0, 0), unix.ENOSYS},
		{"kexec_load", raw(unix.SYS_KEXEC_LOAD), unix.EPERM},
		{"socket(AF_VSOCK)", raw(unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM), unix.EPERM},
		{"getppid", raw(unix.SYS_GETPPID), nil},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) || (c.want == nil) != (c.err == nil) {
			return fmt.Errorf("%s: %v, want %v", c.what, c.err, c.want)
		}
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return fmt.Errorf("socket(AF_INET): %v", err)
	}
	unix.Close(fd)
	runtime.GC() // the Go runtime keeps working under the profile
	return nil
}
