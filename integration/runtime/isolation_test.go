package runtime_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestPidNamespace: the container's process is pid 1 of its own pid
// namespace and sees no host process.
func TestPidNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", `echo "self=$$"; for p in /proc/[0-9]*; do echo "proc=${p#/proc/}"; done`)
	c := e.newContainer(b)
	c.create()

	// Seen from the host, the init already has two pids: its host pid and
	// 1 in the new namespace.
	status := readFile(t, fmt.Sprintf("/proc/%d/status", c.pid))
	if want := fmt.Sprintf("NSpid:\t%d\t1\n", c.pid); !strings.Contains(status, want) {
		t.Errorf("host /proc/%d/status lacks %q:\n%s", c.pid, want, status)
	}
	c.start()
	if ws := c.wait(); ws.ExitStatus() != 0 {
		t.Fatalf("container exited with %v; output:\n%s", ws, c.output())
	}
	out := c.stdout()
	if !strings.Contains(out, "self=1\n") {
		t.Errorf("the container's shell is not pid 1:\n%s", out)
	}
	// Only the shell and the short-lived processes it forked can be in
	// /proc; the host has hundreds of pids, none of them this small.
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if p, ok := strings.CutPrefix(line, "proc="); ok {
			if n, err := strconv.Atoi(p); err != nil || n > 10 {
				t.Errorf("the container sees pid %s: it shares a pid namespace with more than itself", p)
			}
		}
	}
}

// TestHostname: the container has its own UTS namespace, with the spec's
// hostname, and setting it leaves the host's alone.
func TestHostname(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want := testenv.UniqueName(t, "h")
	if want == host {
		t.Fatalf("the host is already called %s", host)
	}
	b := newBundle(t, "sh", "-c", "hostname; cat /proc/sys/kernel/hostname")
	b.spec.Hostname = want
	c := e.newContainer(b)
	r := c.runFG(stdio{})
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if got := r.stdout; got != want+"\n"+want+"\n" {
		t.Errorf("hostname in the container: %q, want %q twice", got, want)
	}
	if after, _ := os.Hostname(); after != host {
		t.Errorf("the host's hostname changed from %s to %s", host, after)
	}
}

// TestNetworkNamespace: a new network namespace has only a loopback
// interface, whatever the host has.
func TestNetworkNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "cat /proc/net/dev; echo ===; readlink /proc/self/ns/net")
	c := e.newContainer(b)
	r := c.runFG(stdio{})
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	dev, ns, ok := strings.Cut(r.stdout, "===\n")
	if !ok {
		t.Fatalf("unexpected output:\n%s", r.stdout)
	}
	if got := interfaces(dev); strings.Join(got, ",") != "lo" {
		t.Errorf("interfaces in the container: %v, want only lo\n%s", got, dev)
	}
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(ns) == hostNS {
		t.Errorf("the container is in the host's network namespace %s", hostNS)
	}
}

// interfaces lists the interface names in /proc/net/dev content.
func interfaces(procNetDev string) []string {
	var out []string
	for line := range strings.SplitSeq(procNetDev, "\n") {
		name, _, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, "|") {
			continue
		}
		out = append(out, strings.TrimSpace(name))
	}
	return out
}

// TestIPCNamespace: SysV IPC objects of the host are invisible in the
// container's own IPC namespace.
func TestIPCNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	shmid, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatalf("shmget: %v", err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(shmid, unix.IPC_RMID, nil) })
	msqid, _, errno := unix.Syscall(unix.SYS_MSGGET, unix.IPC_PRIVATE, unix.IPC_CREAT|0o600, 0)
	if errno != 0 {
		t.Fatalf("msgget: %v", errno)
	}
	t.Cleanup(func() { unix.Syscall(unix.SYS_MSGCTL, msqid, unix.IPC_RMID, 0) })

	// The objects exist on the host, so their absence inside means
	// something.
	if !hasIPCObject(readFile(t, "/proc/sysvipc/shm"), 1, shmid) {
		t.Fatalf("host /proc/sysvipc/shm lacks the segment %d just made", shmid)
	}
	if !hasIPCObject(readFile(t, "/proc/sysvipc/msg"), 1, int(msqid)) {
		t.Fatalf("host /proc/sysvipc/msg lacks the queue %d just made", msqid)
	}

	b := newBundle(t, "sh", "-c", "cat /proc/sysvipc/shm; echo ===; cat /proc/sysvipc/msg")
	c := e.newContainer(b)
	r := c.runFG(stdio{})
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	shm, msg, ok := strings.Cut(r.stdout, "===\n")
	if !ok {
		t.Fatalf("unexpected output:\n%s", r.stdout)
	}
	// A fresh IPC namespace has no objects at all: only the header lines.
	for name, table := range map[string]string{"shm": shm, "msg": msg} {
		if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 1 {
			t.Errorf("/proc/sysvipc/%s in the container lists objects:\n%s", name, table)
		}
	}
}

// hasIPCObject reports whether a /proc/sysvipc table has id in column col.
func hasIPCObject(table string, col, id int) bool {
	for line := range strings.SplitSeq(table, "\n") {
		f := strings.Fields(line)
		if len(f) > col && f[col] == strconv.Itoa(id) {
			return true
		}
	}
	return false
}
