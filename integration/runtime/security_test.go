package runtime_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestReadonlyRoot: with root.readonly the rootfs cannot be written, while
// a tmpfs mounted in it can.
func TestReadonlyRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", `touch /written 2>&1; echo "root=$?"; echo hi > /scratch/f && cat /scratch/f`)
	b.spec.Root.Readonly = true
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nosuid", "nodev", "mode=1777"}})
	c := e.newContainer(b)
	r := c.runFG(stdio{})
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if !strings.Contains(r.stdout, "Read-only file system") || !strings.Contains(r.stdout, "root=1\n") {
		t.Errorf("writing to the read-only root did not fail with EROFS:\n%s", r.stdout)
	}
	if !strings.HasSuffix(r.stdout, "\nhi\n") {
		t.Errorf("the tmpfs on a read-only root is not writable:\n%s", r.stdout)
	}
	for _, p := range []string{"written", "scratch/f"} {
		if _, err := os.Lstat(b.path(p)); err == nil {
			t.Errorf("/%s reached the rootfs on the host", p)
		}
	}
}

// TestMaskedPaths: linux.maskedPaths hides files behind /dev/null and
// directories behind an empty read-only directory (of a tmpfs shared with
// /sys/fs/cgroup); linux.readonlyPaths cannot
// be written. Every path of the default spec that this host has is
// checked.
func TestMaskedPaths(t *testing.T) {
	t.Parallel()
	s := defaultSpec(t)
	var files, dirs []string
	for _, p := range s.Linux.MaskedPaths {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
		case fi.IsDir():
			dirs = append(dirs, p)
		default:
			files = append(files, p)
		}
	}
	if len(files) == 0 || len(dirs) == 0 {
		t.Fatalf("this host has none of the default masked files (%v) or directories (%v): nothing to check", files, dirs)
	}
	t.Run("kcore", func(t *testing.T) {
		// Named in the issue. Kernels built without CONFIG_PROC_KCORE (as
		// some VM kernels are) have nothing to mask; the other masked
		// files below cover the mechanism there.
		if !slices.Contains(files, "/proc/kcore") {
			t.Skip("this kernel has no /proc/kcore (CONFIG_PROC_KCORE is off)")
		}
	})

	var script strings.Builder
	for _, f := range files {
		// /dev/null is character device 1:3 and reads empty.
		fmt.Fprintf(&script, `echo "file %[1]s $(stat -c %%t:%%T %[1]s) $(wc -c < %[1]s)";`, f)
	}
	for _, d := range dirs {
		fmt.Fprintf(&script, `echo "dir %[1]s $(ls -A %[1]s | wc -l)"; touch %[1]s/x 2>/dev/null || echo "dir %[1]s read-only";`, d)
	}
	// In the container's own UTS namespace, so a write that succeeded
	// would harm no one.
	script.WriteString(`echo x > /proc/sys/kernel/domainname; echo "procsys=$?"`)

	e := newEnv(t)
	c := e.newContainer(newBundle(t, "sh", "-c", script.String()))
	r := c.runFG(stdio{})
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	for _, f := range files {
		if want := fmt.Sprintf("file %s 1:3 0\n", f); !strings.Contains(r.stdout, want) {
			t.Errorf("%s is not masked with /dev/null: want %q in\n%s", f, want, r.stdout)
		}
	}
	for _, d := range dirs {
		for _, want := range []string{fmt.Sprintf("dir %s 0\n", d), fmt.Sprintf("dir %s read-only\n", d)} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s is not masked with an empty read-only tmpfs: want %q in\n%s", d, want, r.stdout)
			}
		}
	}
	if !strings.Contains(r.stderr, "Read-only file system") || !strings.Contains(r.stdout, "procsys=1\n") {
		t.Errorf("/proc/sys (a default read-only path) was writable: %v", r)
	}
}

// TestSeccomp: a linux.seccomp rule blocks the syscalls it names, with
// SCMP_ACT_ERRNO returning the errno and SCMP_ACT_KILL killing the caller,
// while everything else keeps working.
func TestSeccomp(t *testing.T) {
	t.Parallel()
	filter := func(action specs.LinuxSeccompAction) *specs.LinuxSeccomp {
		rule := specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: action}
		if action == specs.ActErrno {
			eperm := uint(unix.EPERM)
			rule.ErrnoRet = &eperm
		}
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule}}
	}
	const script = `mkdir /tmp/made; echo "mkdir=$?"; touch /tmp/touched && echo touched`

	t.Run("without", func(t *testing.T) {
		// The control: the same script mkdirs fine without the filter.
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "sh", "-c", script)
		r := e.newContainer(b).runFG(stdio{})
		if r.code != 0 || r.stdout != "mkdir=0\ntouched\n" {
			t.Errorf("without seccomp: %v", r)
		}
	})
	t.Run("errno", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "sh", "-c", script)
		b.spec.Linux.Seccomp = filter(specs.ActErrno)
		r := e.newContainer(b).runFG(stdio{})
		if r.code != 0 || r.stdout != "mkdir=1\ntouched\n" || !strings.Contains(r.stderr, "Operation not permitted") {
			t.Errorf("with mkdir -> EPERM: want mkdir to fail with EPERM and touch to work, got %v", r)
		}
		if _, err := os.Stat(b.path("tmp/made")); err == nil {
			t.Error("the directory was made despite the filter")
		}
		if _, err := os.Stat(b.path("tmp/touched")); err != nil {
			t.Errorf("the filter blocked more than mkdir: %v", err)
		}
	})
	t.Run("kill", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		b := newBundle(t, "mkdir", "/tmp/made")
		b.spec.Linux.Seccomp = filter(specs.ActKill)
		c := e.newContainer(b)
		c.run()
		if ws := c.wait(); !ws.Signaled() || ws.Signal() != unix.SIGSYS {
			t.Errorf("with mkdir -> KILL the process ended with %v, want killed by SIGSYS; output:\n%s", ws, c.output())
		}
		if _, err := os.Stat(b.path("tmp/made")); err == nil {
			t.Error("the directory was made despite the filter")
		}
	})
}

// TestCapabilities: without CAP_CHOWN, chown fails; with it, it works.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	// Docker's default set, which includes CAP_CHOWN.
	all := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE"}
	const script = `touch /tmp/f; chown 1000 /tmp/f; echo "chown=$?"; grep CapEff /proc/self/status`
	for _, tc := range []struct {
		name string
		caps []string
		ok   bool
	}{
		{"with-chown", all, true},
		{"without-chown", slices.DeleteFunc(slices.Clone(all), func(c string) bool { return c == "CAP_CHOWN" }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := newBundle(t, "sh", "-c", script)
			b.spec.Process.Capabilities = &specs.LinuxCapabilities{
				Bounding: tc.caps, Effective: tc.caps, Permitted: tc.caps,
			}
			r := e.newContainer(b).runFG(stdio{})
			if r.code != 0 {
				t.Fatalf("%v", r)
			}
			owner := -1
			if fi, err := os.Stat(b.path("tmp/f")); err == nil {
				owner = int(fi.Sys().(*syscall.Stat_t).Uid)
			}
			effective := capEff(t, r.stdout)
			if tc.ok {
				if !strings.Contains(r.stdout, "chown=0\n") || owner != 1000 || effective&1 == 0 {
					t.Errorf("with CAP_CHOWN: chown should work; owner %d, output %v", owner, r)
				}
				return
			}
			if !strings.Contains(r.stdout, "chown=1\n") || !strings.Contains(r.stderr, "Operation not permitted") || owner != 0 {
				t.Errorf("without CAP_CHOWN: chown should fail with EPERM; owner %d, output %v", owner, r)
			}
			if effective&1 != 0 {
				t.Errorf("without CAP_CHOWN: CapEff %#x still has it", effective)
			}
		})
	}
}

// capEff parses the CapEff line of /proc/<pid>/status output.
func capEff(t *testing.T, out string) uint64 {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "CapEff:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			if err != nil {
				t.Fatalf("CapEff %q: %v", rest, err)
			}
			return v
		}
	}
	t.Fatalf("no CapEff in:\n%s", out)
	return 0
}

// TestUserNamespace: with a user namespace, root in the container is uid
// 100000 on the host: uid_map says so, files it creates are owned by
// 100000, and host root's files show as the overflow uid.
func TestUserNamespace(t *testing.T) {
	t.Parallel()
	const base, size = 100000, 65536
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", `cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /created && echo created; stat -c %u /hostowned`)
	b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	b.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: size}}
	b.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: size}}
	// The rootfs belongs to the mapped ids, as an image unpacked for this
	// mapping would, except one file left to host root.
	err := filepath.WalkDir(b.rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		return os.Lchown(p, int(st.Uid)+base, int(st.Gid)+base)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.path("hostowned"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The mapped root has no rights on the host: it must be able to reach
	// the rootfs through the test's private temp directories.
	for _, d := range []string{b.dir, filepath.Dir(b.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := e.newContainer(b)
	r := c.runFG(stdio{})
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("unexpected output:\n%s", r.stdout)
	}
	for i, name := range []string{"uid_map", "gid_map"} {
		if f := strings.Fields(lines[i]); !slices.Equal(f, []string{"0", strconv.Itoa(base), strconv.Itoa(size)}) {
			t.Errorf("%s in the container: %q, want 0 %d %d", name, lines[i], base, size)
		}
	}
	if lines[2] != "0" || lines[3] != "created" {
		t.Errorf("the process is not root in its namespace, or could not write its rootfs:\n%s", r.stdout)
	}
	if lines[4] != "65534" {
		t.Errorf("a file of host root shows as uid %s in the container, want the overflow uid 65534", lines[4])
	}
	fi, err := os.Stat(b.path("created"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != base || st.Gid != base {
		t.Errorf("a file made by the container's root is owned by %d:%d on the host, want %d:%d", st.Uid, st.Gid, base, base)
	}
}

// leakedFDs are descriptors the test binary opens without O_CLOEXEC, so
// that every process it starts (the runtime included) inherits them, as a
// careless caller of the runtime would hand them down.
type leakedFDs struct {
	dir, file, pipeR, pipeW int
	ids                     map[[2]uint64]string // (dev, ino) -> what
}

func leakFDs(t *testing.T, hostDir, secret string) *leakedFDs {
	t.Helper()
	l := &leakedFDs{ids: map[[2]uint64]string{}}
	var err error
	if l.dir, err = unix.Open(hostDir, unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
		t.Fatal(err)
	}
	if l.file, err = unix.Open(filepath.Join(hostDir, secret), unix.O_RDONLY, 0); err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	l.pipeR, l.pipeW = p[0], p[1]
	t.Cleanup(func() {
		for _, fd := range []int{l.dir, l.file, l.pipeR, l.pipeW} {
			unix.Close(fd)
		}
	})
	for fd, what := range map[int]string{l.dir: "the host directory", l.file: "the host file", l.pipeR: "the pipe", l.pipeW: "the pipe"} {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		l.ids[[2]uint64{st.Dev, st.Ino}] = what
	}
	return l
}

// held lists the fds of pid that refer to a leaked object.
func (l *leakedFDs) held(t *testing.T, pid int) []string {
	t.Helper()
	var out []string
	for fd := range fdTargets(t, pid) {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st); err != nil {
			continue
		}
		if what, ok := l.ids[[2]uint64{st.Dev, st.Ino}]; ok {
			out = append(out, fmt.Sprintf("fd %d: %s", fd, what))
		}
	}
	return out
}

// fdNumbers lists the fds pid has open, sorted.
func fdNumbers(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	for fd := range fdTargets(t, pid) {
		out = append(out, fd)
	}
	slices.Sort(out)
	return out
}

// TestNoHostFDLeak (the CVE-2024-21626 class): descriptors the runtime
// inherits from its caller never reach the container, neither its process
// nor the init waiting for start (reachable through /proc/1/fd), through
// create/start or exec; and a working directory through /proc/self/fd
// cannot land outside the container.
//
// Not parallel: the fds it leaks on purpose reach every process the test
// binary starts while it runs, and parallel tests only run once all
// sequential ones are done.
func TestNoHostFDLeak(t *testing.T) {
	testenv.RequireRoot(t)
	hostDir := t.TempDir()
	secret := "host-secret-" + testenv.UniqueName(t, "")
	if err := os.WriteFile(filepath.Join(hostDir, secret), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := leakFDs(t, hostDir, secret)

	// The leak works: a child of the test binary holds the host directory.
	if out, err := execOutput("/bin/sh", "-c", fmt.Sprintf("readlink /proc/self/fd/%d", l.dir)); err != nil || strings.TrimSpace(out) != hostDir {
		t.Fatalf("a child of the test does not inherit fd %d: %q, %v", l.dir, out, err)
	}

	t.Run("create-start", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.newContainer(newBundle(t, "sleep", "1000"))
		c.create()
		// The init waits for start holding whatever it inherited; a
		// container process with CAP_SYS_PTRACE could take those through
		// /proc/1/fd.
		if held := l.held(t, c.pid); len(held) > 0 {
			t.Errorf("the created container's init holds the caller's descriptors: %v", held)
		}
		c.start()
		c.waitStatus("running")
		if fds := fdNumbers(t, c.pid); !slices.Equal(fds, []int{0, 1, 2}) {
			t.Errorf("the container's process has fds %v, want 0 1 2: %v", fds, fdTargets(t, c.pid))
		}
		// The same from inside.
		r := c.exec(stdio{}, nil, "ls", "/proc/1/fd")
		if got := strings.Fields(r.stdout); r.code != 0 || !slices.Equal(got, []string{"0", "1", "2"}) {
			t.Errorf("ls /proc/1/fd in the container: %v", r)
		}
	})

	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.newContainer(newBundle(t, "sleep", "1000"))
		c.run()
		pidFile := filepath.Join(t.TempDir(), "exec.pid")
		if r := c.exec(stdio{}, []string{"-d", "--pid-file", pidFile}, "sleep", "1000"); r.code != 0 {
			t.Fatalf("%v", r)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
		if err != nil {
			t.Fatal(err)
		}
		c.track(pid)
		if fds := fdNumbers(t, pid); !slices.Equal(fds, []int{0, 1, 2}) {
			t.Errorf("the exec'd process has fds %v, want 0 1 2: %v", fds, fdTargets(t, pid))
		}
		r := c.exec(stdio{}, nil, "sh", "-c", "ls /proc/$$/fd; exit 0")
		if got := strings.Fields(r.stdout); r.code != 0 || !slices.Equal(got, []string{"0", "1", "2"}) {
			t.Errorf("an exec'd shell lists its fds as: %v", r)
		}
	})

	t.Run("preserve-fds", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close()
		c := e.newContainer(newBundle(t, "sleep", "1000"))
		if r := c.createWith(stdio{extra: []*os.File{pr}}, "--preserve-fds", "1"); r.code != 0 {
			t.Fatalf("%v", r)
		}
		c.start()
		c.waitStatus("running")
		if fds := fdNumbers(t, c.pid); !slices.Equal(fds, []int{0, 1, 2, 3}) {
			t.Errorf("with --preserve-fds 1 the process has fds %v, want 0 1 2 3: %v", fds, fdTargets(t, c.pid))
		}
		if held := l.held(t, c.pid); len(held) > 0 {
			t.Errorf("with --preserve-fds 1 the process holds the caller's other descriptors: %v", held)
		}
	})

	t.Run("cwd", func(t *testing.T) {
		// Whatever descriptor /proc/self/fd/N names in the runtime's init
		// when it enters process.cwd (the leaked directory, or one of the
		// init's own), the process must not start outside the container.
		e := newEnv(t)
		running := e.newContainer(newBundle(t, "sleep", "1000"))
		running.run()
		for _, n := range candidateFDs(l.dir) {
			cwd := fmt.Sprintf("/proc/self/fd/%d", n)
			// Through exec, into a running container.
			r := running.exec(stdio{}, []string{"--cwd", cwd}, "sh", "-c", "pwd; ls -a")
			if r.code == 0 {
				checkCwdInside(t, r.stdout, secret)
			}
			t.Logf("exec --cwd %s: exit %d: %s", cwd, r.code, strings.TrimSpace(r.stderr))
		}
		for _, n := range candidateFDs(l.dir) {
			t.Run(strconv.Itoa(n), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				cwd := fmt.Sprintf("/proc/self/fd/%d", n)
				b := newBundle(t, "sh", "-c", "pwd; ls -a")
				b.spec.Process.Cwd = cwd
				c := e.newContainer(b)
				var r result
				if r = c.createWith(stdio{}); r.code == 0 {
					if r = e.rt("start", c.id); r.code == 0 {
						c.wait()
						checkCwdInside(t, c.output(), secret)
					}
				}
				t.Logf("process.cwd %s: create/start exit %d: %s", cwd, r.code, strings.TrimSpace(r.stderr))
			})
		}
	})
}

// candidateFDs are the descriptor numbers worth trying as /proc/self/fd/N.
func candidateFDs(leaked int) []int {
	out := []int{leaked}
	for n := 3; n <= 12; n++ {
		if n != leaked {
			out = append(out, n)
		}
	}
	return out
}

// checkCwdInside fails t if a process that printed pwd and listed its
// working directory was outside the container.
func checkCwdInside(t *testing.T, out, secret string) {
	t.Helper()
	pwd, _, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(pwd, "/") || strings.Contains(pwd, "unreachable") || strings.Contains(out, secret) {
		t.Errorf("the process started with a working directory outside the container:\n%s", out)
	}
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}

// helperEnv selects what the test binary does when it runs as a helper
// inside a container (TestMain).
const helperEnv = "BERTH_ITEST_HELPER"

func runHelper(mode string, args []string) int {
	switch mode {
	case "exe-attack":
		return exeAttack(args)
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

// attackReport is what the exe-attack helper got: the sha256 of what it
// could read through the link (to show it reached the runtime binary), and
// for each way of opening it for writing, "ok" or the error.
type attackReport struct {
	SHA256   string            `json:"sha256"`
	Attempts map[string]string `json:"attempts"`
}

// exeAttack is CVE-2019-5736 done properly, with system calls busybox has
// no way to make: it takes an O_PATH (and an O_RDONLY) handle on args[0]
// (/proc/<pid>/exe of a process running the runtime binary) and tries to
// open it for writing; then, once told on stdin that the runtime process
// has gone (and with it the "text file busy" protection), it reopens the
// handles through /proc/self/fd for writing. It prints one attackReport
// per phase.
func exeAttack(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: exe-attack /proc/<pid>/exe")
		return 2
	}
	target := args[0]
	enc := json.NewEncoder(os.Stdout)
	opath, err := unix.Open(target, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "open %s O_PATH: %v\n", target, err)
		return 1
	}
	live := attackReport{Attempts: map[string]string{}}
	rd, err := unix.Open(target, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		h := sha256.New()
		if _, err := io.Copy(h, os.NewFile(uintptr(rd), target)); err == nil {
			live.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
	}
	tryWrite(live.Attempts, "open-wronly", target, unix.O_WRONLY)
	tryWrite(live.Attempts, "open-rdwr", target, unix.O_RDWR)
	tryWrite(live.Attempts, "open-trunc", target, unix.O_WRONLY|unix.O_TRUNC)
	enc.Encode(live)

	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintf(os.Stderr, "waiting for the go-ahead: %v\n", err)
		return 1
	}
	after := attackReport{Attempts: map[string]string{}}
	viaPath := fmt.Sprintf("/proc/self/fd/%d", opath)
	tryWrite(after.Attempts, "reopen-opath-wronly", viaPath, unix.O_WRONLY)
	tryWrite(after.Attempts, "reopen-opath-rdwr", viaPath, unix.O_RDWR)
	tryWrite(after.Attempts, "reopen-opath-trunc", viaPath, unix.O_WRONLY|unix.O_TRUNC)
	if rd >= 0 {
		tryWrite(after.Attempts, "reopen-rdonly-wronly", fmt.Sprintf("/proc/self/fd/%d", rd), unix.O_WRONLY)
	}
	enc.Encode(after)
	return 0
}

// tryWrite opens path with flags and writes a byte at offset 0.
func tryWrite(attempts map[string]string, name, path string, flags int) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		attempts[name] = "open: " + err.Error()
		return
	}
	defer unix.Close(fd)
	if _, err := unix.Pwrite(fd, []byte{0}, 0); err != nil {
		attempts[name] = "opened for writing; write: " + err.Error()
		return
	}
	attempts[name] = "ok"
}

// attacker is a process exec'd (detached) into a container, which the test
// talks to through pipes.
type attacker struct {
	t      *testing.T
	in     *os.File // its stdin
	out    *bufio.Reader
	stderr *os.File
}

// startAttacker execs args detached into c, with its stdin and stdout on
// pipes to the test.
func startAttacker(t *testing.T, c *container, flags []string, args ...string) *attacker {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inW.Close(); outR.Close() })
	pidFile := filepath.Join(t.TempDir(), "attacker.pid")
	stderr := tempFile(t, "attacker-stderr")
	r := c.exec(stdio{stdin: inR, stdout: outW, stderr: stderr}, append([]string{"-d", "--pid-file", pidFile}, flags...), args...)
	// Only the attacker holds these ends now, so its exit is our EOF.
	inR.Close()
	outW.Close()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	c.track(pid)
	outR.SetReadDeadline(time.Now().Add(waitTimeout))
	return &attacker{t: t, in: inW, out: bufio.NewReader(outR), stderr: stderr}
}

// line reads the attacker's next output line.
func (a *attacker) line() string {
	a.t.Helper()
	s, err := a.out.ReadString('\n')
	if err != nil {
		a.t.Fatalf("reading the attacker's output (so far %q): %v; its stderr:\n%s", s, err, readFile(a.t, a.stderr.Name()))
	}
	return strings.TrimSuffix(s, "\n")
}

func (a *attacker) report() attackReport {
	a.t.Helper()
	var rep attackReport
	line := a.line()
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		a.t.Fatalf("attacker report %q: %v", line, err)
	}
	return rep
}

func (a *attacker) goAhead() {
	a.t.Helper()
	if _, err := a.in.WriteString("go\n"); err != nil {
		a.t.Fatal(err)
	}
}

// rest reads the attacker's output up to its exit.
func (a *attacker) rest() string {
	a.t.Helper()
	data, err := io.ReadAll(a.out)
	if err != nil {
		a.t.Fatalf("reading the attacker's output: %v", err)
	}
	return string(data)
}

// checkAttack fails t if any attempt of rep could open the binary for
// writing.
func checkAttack(t *testing.T, phase string, rep attackReport) {
	t.Helper()
	if len(rep.Attempts) == 0 {
		t.Errorf("%s: the attacker made no attempt", phase)
	}
	for name, res := range rep.Attempts {
		if res == "ok" {
			t.Errorf("%s: %s wrote to the runtime binary", phase, name)
		}
	}
	t.Logf("%s: %v", phase, rep.Attempts)
}

// TestRuntimeBinaryNotWritable (the CVE-2019-5736 class): a container
// process that reaches the runtime binary through /proc/<pid>/exe cannot
// write it, neither while the runtime process runs nor by reopening a handle
// once it has exited. The attackers get CAP_SYS_PTRACE, which /proc/<pid>/exe
// of another process requires, as a container run with --cap-add SYS_PTRACE
// has. The test runs a private copy of bin/berth-runtime, so that a failure
// breaks only the copy, and checks the copy's sha256.
func TestRuntimeBinaryNotWritable(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	setup := func(t *testing.T, args ...string) (*env, *bundle, string, string) {
		t.Helper()
		e := newEnv(t)
		copyPath := filepath.Join(t.TempDir(), "berth-runtime")
		copyExecutable(t, e.bin, copyPath)
		e.bin = copyPath
		b := newBundle(t, args...)
		installHelper(t, b)
		// With _BERTH_INITPIPE=0 and a silent stdin, the runtime binary
		// run as a container process would block in its nsenter
		// constructor, reading a bootstrap that never comes: alive to be
		// attacked.
		writeScript(t, b.path("evil.sh"), "#!/proc/self/exe\n")
		return e, b, copyPath, sha256File(t, copyPath)
	}
	attackerFlags := []string{"--cap", "CAP_SYS_PTRACE", "-e", helperEnv + "=exe-attack"}
	const blockEnv = "_BERTH_INITPIPE=0"

	t.Run("control", func(t *testing.T) {
		// The attacker does write an executable that is not protected:
		// a copy of busybox run from the rootfs by an exec'd process.
		t.Parallel()
		e, b, _, _ := setup(t, "sleep", "1000")
		// Busybox picks its applet by the name it runs under.
		victim := b.path("victim/sleep")
		if err := os.Mkdir(filepath.Dir(victim), 0o755); err != nil {
			t.Fatal(err)
		}
		copyExecutable(t, testenv.BusyboxPath, victim)
		victimSum := sha256File(t, victim)
		c := e.newContainer(b)
		c.run()
		pidFile := filepath.Join(t.TempDir(), "victim.pid")
		if r := c.exec(stdio{}, []string{"-d", "--pid-file", pidFile}, "/victim/sleep", "1000"); r.code != 0 {
			t.Fatalf("%v", r)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
		if err != nil {
			t.Fatal(err)
		}
		pidfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(pidfd)
		a := startAttacker(t, c, attackerFlags, "/helper", fmt.Sprintf("/proc/%d/exe", nsPid(t, pid)))
		if live := a.report(); live.SHA256 != victimSum {
			t.Fatalf("the attacker read sha256 %q, not the victim's %s", live.SHA256, victimSum)
		}
		if err := killAndReap(pidfd); err != nil {
			t.Fatal(err)
		}
		a.goAhead()
		after := a.report()
		if after.Attempts["reopen-opath-wronly"] != "ok" {
			t.Errorf("the attacker could not write an unprotected executable through its handle: %v", after.Attempts)
		}
		if sha256File(t, victim) == victimSum {
			t.Error("the attacker reported writes but the victim is unchanged")
		}
	})

	t.Run("created-init", func(t *testing.T) {
		// While the container is created, its pid 1 is the runtime's
		// init; start then execs the container's process over it.
		t.Parallel()
		e, b, copyPath, sum := setup(t, "sleep", "1000")
		c := e.newContainer(b)
		c.create()
		if got := sha256File(t, fmt.Sprintf("/proc/%d/exe", c.pid)); got != sum {
			t.Fatalf("the init does not run the runtime binary (sha256 %s, want %s)", got, sum)
		}
		if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", c.pid)); link == copyPath {
			t.Errorf("the init runs the runtime binary from its writable path %s", link)
		}

		goAttacker := startAttacker(t, c, attackerFlags, "/helper", "/proc/1/exe")
		live := goAttacker.report()
		if live.SHA256 != sum {
			t.Fatalf("the attacker read sha256 %q through /proc/1/exe, not the runtime binary's", live.SHA256)
		}
		checkAttack(t, "while the init runs", live)
		// The same in busybox: write through the link now, and keep a
		// descriptor to write through once the init has exec'd.
		shAttacker := startAttacker(t, c, []string{"--cap", "CAP_SYS_PTRACE"}, "sh", "-c", `
			echo x > /proc/1/exe; echo "echo=$?"
			dd if=/dev/zero of=/proc/1/exe bs=1 count=1 conv=notrunc 2>/dev/null; echo "dd=$?"
			exec 3</proc/1/exe && echo opened
			read go
			echo x >/proc/self/fd/3; echo "reopen-echo=$?"
			dd if=/dev/zero of=/proc/self/fd/3 bs=1 count=1 conv=notrunc 2>/dev/null; echo "reopen-dd=$?"`)
		for _, want := range []string{"echo=1", "dd=1", "opened"} {
			if l := shAttacker.line(); l != want {
				t.Errorf("busybox attacker while the init runs: %q, want %q", l, want)
			}
		}

		// From here the runtime binary runs nowhere: the handles are all
		// that is left of it.
		c.start()
		c.waitStatus("running")
		goAttacker.goAhead()
		checkAttack(t, "after the init exec'd", goAttacker.report())
		shAttacker.goAhead()
		if out := shAttacker.rest(); out != "reopen-echo=1\nreopen-dd=1\n" {
			t.Errorf("busybox attacker after the init exec'd:\n%s", out)
		}
		if got := sha256File(t, copyPath); got != sum {
			t.Fatalf("the runtime binary changed: sha256 %s, was %s", got, sum)
		}
	})

	// attackRuntimeProcess attacks pid (host) / nsPid (container), a
	// container process found to run the runtime binary, then kills it
	// and attacks the handle.
	attackRuntimeProcess := func(t *testing.T, c *container, pid int, copyPath, sum string) {
		t.Helper()
		pidfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(pidfd)
		a := startAttacker(t, c, attackerFlags, "/helper", fmt.Sprintf("/proc/%d/exe", nsPid(t, pid)))
		live := a.report()
		if live.SHA256 != sum {
			t.Errorf("the attacker read sha256 %q, not the runtime binary's", live.SHA256)
		}
		checkAttack(t, "while the runtime binary runs in the container", live)
		if nsPid(t, pid) == 1 {
			// The container's pid 1: killing it ends its pid namespace,
			// the attacker with it. The exec case attacks a handle that
			// outlives the runtime process.
			t.Log("the runtime binary runs as the container's pid 1: only the live attack applies")
		} else {
			if err := killAndReap(pidfd); err != nil {
				t.Fatal(err)
			}
			a.goAhead()
			checkAttack(t, "after it exited", a.report())
		}
		if got := sha256File(t, copyPath); got != sum {
			t.Fatalf("the runtime binary changed: sha256 %s, was %s", got, sum)
		}
	}
	// runsRuntime reports whether pid runs the runtime binary; a process
	// that already exited does not.
	runsRuntime := func(t *testing.T, pid int, sum string) bool {
		t.Helper()
		f, err := os.Open(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			return false
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return false
		}
		return hex.EncodeToString(h.Sum(nil)) == sum
	}

	t.Run("entrypoint", func(t *testing.T) {
		// A "#!/proc/self/exe" entrypoint asks the kernel to run the
		// init's own executable as the container's process. Refusing to
		// (exec fails, so start fails) is a defence; running it must not
		// expose the binary.
		t.Parallel()
		e, b, copyPath, sum := setup(t, "/evil.sh")
		b.spec.Process.Env = append(b.spec.Process.Env, blockEnv)
		stdinR, stdinW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdinW.Close()
		c := e.newContainer(b)
		r := c.createWith(stdio{stdin: stdinR})
		stdinR.Close()
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if r := e.rt("start", c.id); r.code != 0 {
			if !strings.Contains(r.stderr, "/evil.sh") {
				t.Errorf("start failed without naming the entrypoint: %v", r)
			}
			t.Logf("the runtime binary cannot be run as the container's process: %s", strings.TrimSpace(r.stderr))
		} else if c.waitStatus("running"); runsRuntime(t, c.pid, sum) {
			attackRuntimeProcess(t, c, c.pid, copyPath, sum)
		} else {
			t.Errorf("start succeeded but pid %d does not run the runtime binary; output:\n%s", c.pid, c.output())
		}
		if got := sha256File(t, copyPath); got != sum {
			t.Fatalf("the runtime binary changed: sha256 %s, was %s", got, sum)
		}
	})

	t.Run("exec", func(t *testing.T) {
		// The same through exec, which runs the runtime as an init too.
		t.Parallel()
		e, b, copyPath, sum := setup(t, "sleep", "1000")
		c := e.newContainer(b)
		c.run()
		stdinR, stdinW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdinW.Close()
		pidFile := filepath.Join(t.TempDir(), "evil.pid")
		r := c.exec(stdio{stdin: stdinR}, []string{"-d", "--pid-file", pidFile, "-e", blockEnv}, "/evil.sh")
		stdinR.Close()
		if r.code != 0 {
			if !strings.Contains(r.stderr, "/evil.sh") {
				t.Errorf("exec failed without naming the program: %v", r)
			}
			t.Logf("the runtime binary cannot be run as an exec'd process: %s", strings.TrimSpace(r.stderr))
		} else {
			pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
			if err != nil {
				t.Fatal(err)
			}
			c.track(pid)
			if !runsRuntime(t, pid, sum) {
				t.Fatalf("exec succeeded but pid %d does not run the runtime binary", pid)
			}
			attackRuntimeProcess(t, c, pid, copyPath, sum)
		}
		if got := sha256File(t, copyPath); got != sum {
			t.Fatalf("the runtime binary changed: sha256 %s, was %s", got, sum)
		}
	})
}

// TestMountDestinationSymlinks: mount destinations are resolved inside the
// rootfs, so symlinks planted in the rootfs (absolute, climbing with "..",
// or a chain of both) that name host directories cannot send a mount to
// the host: each mount lands on the link's target taken as a path inside
// the rootfs, and the host directories are left untouched.
func TestMountDestinationSymlinks(t *testing.T) {
	t.Parallel()
	climb := strings.Repeat("../", 16) // far more than the rootfs is deep
	// hostDir makes a host directory outside the bundle, holding one file.
	hostDir := func(t *testing.T, name string) string {
		// Under /tmp, not TMPDIR: the path is also made inside the
		// rootfs, where it must not fall under one of the container's own
		// mounts (TMPDIR may be /dev/shm).
		dir, err := os.MkdirTemp("/tmp", "berth-escape-"+name+"-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "sentinel"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	untouched := func(t *testing.T, dir string) {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "sentinel" {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("host directory %s changed: %v", dir, names)
		}
		if m := mountsUnder(t, dir); len(m) > 0 {
			t.Errorf("host directory %s has mounts on it: %v", dir, m)
		}
	}
	tmpfs := func(dest string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}}
	}

	t.Run("targets-in-rootfs", func(t *testing.T) {
		// The links' targets exist both on the host and in the rootfs:
		// resolving on the host would find the host's.
		t.Parallel()
		e := newEnv(t)
		dirs := map[string]string{}
		for _, name := range []string{"abs", "rel", "chain", "bind"} {
			dirs[name] = hostDir(t, name)
		}
		bindSrc := t.TempDir()
		b := newBundle(t, "sh", "-c", "for d in abs-evil rel-evil chain1 bind-evil; do touch /$d/written-by-container || exit 1; done; echo wrote; exec sleep 1000")
		for _, dir := range dirs {
			if err := os.MkdirAll(b.path(dir), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		links := map[string]string{
			"abs-evil":  dirs["abs"],
			"rel-evil":  climb + strings.TrimPrefix(dirs["rel"], "/"),
			"chain1":    "chain2",
			"chain2":    "/chain3",
			"chain3":    climb + strings.TrimPrefix(dirs["chain"], "/"),
			"bind-evil": dirs["bind"],
		}
		for link, target := range links {
			if err := os.Symlink(target, b.path(link)); err != nil {
				t.Fatal(err)
			}
		}
		b.spec.Mounts = append(b.spec.Mounts, tmpfs("/abs-evil"), tmpfs("/rel-evil"), tmpfs("/chain1"),
			specs.Mount{Destination: "/bind-evil", Type: "bind", Source: bindSrc, Options: []string{"rbind"}})
		c := e.newContainer(b)
		c.create()

		// Each mount is at the host directory's path taken inside the
		// container's root (mountinfo paths are relative to the reader's
		// root, and the init's root is the rootfs).
		inside := readMountinfo(t, fmt.Sprintf("/proc/%d/mountinfo", c.pid))
		for name, dir := range dirs {
			found := false
			for _, m := range inside {
				if m.point != dir {
					continue
				}
				// A new tmpfs shows its root; the bind mount shows its
				// source's path within the source's file system.
				if name == "bind" {
					found = found || m.root != "/" && strings.HasSuffix(bindSrc, m.root)
				} else {
					found = found || m.fstype == "tmpfs" && m.root == "/"
				}
			}
			if !found {
				t.Errorf("no %s mount at %s inside the container; its mounts: %v", name, dir, inside)
			}
		}
		c.start()
		eventually(t, waitTimeout, func() (bool, string) {
			return strings.Contains(c.output(), "wrote"), "the container could not write to its mounts; output:\n" + c.output()
		})
		// The writes went into the mounts (the bind mount's source),
		// never into the host directories.
		if _, err := os.Stat(filepath.Join(bindSrc, "written-by-container")); err != nil {
			t.Errorf("the bind mount did not receive the container's write: %v", err)
		}
		for _, dir := range dirs {
			untouched(t, dir)
		}
		for link, target := range links {
			if got, err := os.Readlink(b.path(link)); err != nil || got != target {
				t.Errorf("rootfs link %s is now %q (%v), want %q", link, got, err, target)
			}
		}
	})

	t.Run("dangling", func(t *testing.T) {
		// The links' targets exist only on the host. Refusing the mount
		// (as pathrs does for dangling links) and mounting on a new
		// directory inside the rootfs are both safe; touching the host
		// is not.
		t.Parallel()
		e := newEnv(t)
		abs, rel := hostDir(t, "dangling-abs"), hostDir(t, "dangling-rel")
		for _, tc := range []struct{ link, target string }{
			{"abs-evil", abs},
			{"rel-evil", climb + strings.TrimPrefix(rel, "/")},
		} {
			b := newBundle(t, "sleep", "1000")
			if err := os.Symlink(tc.target, b.path(tc.link)); err != nil {
				t.Fatal(err)
			}
			b.spec.Mounts = append(b.spec.Mounts, tmpfs("/"+tc.link))
			c := e.newContainer(b)
			if r := c.createWith(stdio{}); r.code != 0 {
				if !strings.Contains(r.stderr, tc.link) {
					t.Errorf("%s: create failed without naming the mount: %v", tc.link, r)
				}
				assertNoTraces(t, e, c.id, b)
			} else {
				// The target with its ".."s clamped at the root.
				inRoot := "/" + strings.TrimLeft(strings.ReplaceAll(tc.target, "../", ""), "/")
				found := false
				for _, m := range readMountinfo(t, fmt.Sprintf("/proc/%d/mountinfo", c.pid)) {
					found = found || m.point == inRoot && m.fstype == "tmpfs"
				}
				if !found {
					t.Errorf("%s: no tmpfs at %s inside the container", tc.link, inRoot)
				}
			}
		}
		untouched(t, abs)
		untouched(t, rel)
	})
}

// TestBindThroughDanglingSymlink: an image whose /etc/resolv.conf is a
// dangling relative link (as systemd-resolved images ship it) still gets a
// file bind mounted there: on the link's target inside the rootfs, as runc
// does, and nowhere on the host.
func TestBindThroughDanglingSymlink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(src, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "cat", "/etc/resolv.conf")
	if err := os.Symlink("../run/systemd/resolve/stub-resolv.conf", b.path("etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	r := e.newContainer(b).runFG(stdio{})
	if r.code != 0 || r.stdout != "nameserver 192.0.2.53\n" {
		t.Fatalf("reading the bind mounted file through the link: %v", r)
	}
	if _, err := os.Stat(b.path("run/systemd/resolve/stub-resolv.conf")); err != nil {
		t.Errorf("the mount point was not made at the link's target in the rootfs: %v", err)
	}
}

// TestFinalizeEarly: a created init that waits for its start has already
// become the process's user, with its capabilities and its filter, where
// the filter allows everything the waiting init does; the start is then
// only the exec. A filter that could refuse the wait keeps the old order:
// the init waits as root, unfiltered, and finalizes after the start. Both
// run the process the same way.
func TestFinalizeEarly(t *testing.T) {
	t.Parallel()
	const nobody = 65534
	for _, tc := range []struct {
		name  string
		deny  []string // syscalls the filter refuses with EPERM
		early bool
	}{
		{"early", []string{"mkdir", "mkdirat"}, true},
		{"late", []string{"mkdir", "mkdirat", "accept4"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := newBundle(t, "sh", "-c", "id -u; mkdir /tmp/made; echo mkdir=$?")
			b.spec.Process.User.UID, b.spec.Process.User.GID = nobody, nobody
			eperm := uint(unix.EPERM)
			b.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: tc.deny, Action: specs.ActErrno, ErrnoRet: &eperm},
			}}
			c := e.newContainer(b)
			c.create()
			status := readFile(t, fmt.Sprintf("/proc/%d/status", c.pid))
			uids, mode := strings.Fields(statusField(status, "Uid")), statusField(status, "Seccomp")
			wantUID, wantMode := "0", "0"
			if tc.early {
				wantUID, wantMode = strconv.Itoa(nobody), "2"
			}
			if len(uids) == 0 || uids[0] != wantUID || mode != wantMode {
				t.Errorf("created init: Uid %v, Seccomp %q; want uid %s, seccomp mode %s", uids, mode, wantUID, wantMode)
			}
			c.start()
			if ws := c.wait(); ws.ExitStatus() != 0 {
				t.Fatalf("the process ended with %v; output:\n%s", ws, c.output())
			}
			want := fmt.Sprintf("%d\nmkdir=1\n", nobody)
			if got := c.stdout(); got != want || !strings.Contains(c.output(), "Operation not permitted") {
				t.Errorf("output %q, want %q and mkdir refused by the filter; all output:\n%s", got, want, c.output())
			}
		})
	}
}

// statusField returns a field of /proc/PID/status.
func statusField(status, name string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
