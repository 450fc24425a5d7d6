package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

// runtimesUnderTest are berth-runtime and, where installed, runc: the spec
// must run on both, as dockerd's runs on runc.
func runtimesUnderTest(t *testing.T) map[string]string {
	t.Helper()
	rts := map[string]string{"berth": testenv.RuntimeBinary(t)}
	if p, err := exec.LookPath("runc"); err == nil {
		rts["runc"] = p
	}
	return rts
}

// runSpec generates the spec for in (with a busybox rootfs and the network
// files filled in), runs it to completion with the runtime and returns its
// stdout, stderr and exit code.
func runSpec(t *testing.T, runtime string, in Input) (stdout, stderr string, code int) {
	t.Helper()
	rootfs := testenv.BusyboxRootfs(t)
	bundle := filepath.Dir(rootfs)
	files := t.TempDir()
	for name, content := range map[string]string{
		"hosts":       "127.0.0.1\tlocalhost\n",
		"resolv.conf": "nameserver 127.0.0.1\n",
		"hostname":    in.ID[:12] + "\n",
	} {
		if err := os.WriteFile(filepath.Join(files, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in.Rootfs = rootfs
	in.HostsPath = filepath.Join(files, "hosts")
	in.ResolvConfPath = filepath.Join(files, "resolv.conf")
	in.HostnamePath = filepath.Join(files, "hostname")
	// A parent of the test's own, removed at the end, so nothing is left
	// under the daemon's /berth.
	parent := "/" + testenv.UniqueName(t, "berth-spec")
	in.CgroupParent = parent
	t.Cleanup(func() { removeCgroupParent(parent) })

	s, err := Generate(context.Background(), in)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtime, "--root", root, "run", "--bundle", bundle, in.ID)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	t.Cleanup(func() { exec.Command(runtime, "--root", root, "delete", "--force", in.ID).Run() })
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s run: %v\n%s", runtime, err, errb.String())
	}
	return out.String(), errb.String(), code
}

// removeCgroupParent removes the test's cgroup parent in every hierarchy.
func removeCgroupParent(parent string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parent))
	for _, d := range dirs {
		for range 50 {
			if err := unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// report parses the script's "key=value" lines.
func report(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	return m
}

// defaultCapEff is docker's 14 default capabilities as the kernel shows them.
const defaultCapEff = "00000000a80425fb"

// TestRunDefault runs `docker run busybox sh -c ...` as generated: root
// with docker's capabilities, the seccomp filter on, masked and read-only
// paths in place, a 64 MiB /dev/shm and the network files mounted.
func TestRunDefault(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	script := `echo uid=$(id -u)
echo capeff=$(grep CapEff /proc/self/status | cut -f2)
echo capbnd=$(grep CapBnd /proc/self/status | cut -f2)
echo seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2)
echo nnp=$(grep NoNewPrivs /proc/self/status | cut -f2)
echo shm=$(df -k /dev/shm | awk 'NR==2{print $2}')
echo hostname=$(hostname)
echo etchostname=$(cat /etc/hostname)
echo hosts=$(cat /etc/hosts | tr '\t' ' ')
echo timerlist=$(wc -c < /proc/timer_list)
echo procsys=$(echo 1 > /proc/sys/kernel/printk 2>/dev/null && echo writable || echo denied)
echo sys=$(touch /sys/kernel/x 2>/dev/null && echo writable || echo denied)
echo root=$(touch /written 2>/dev/null && echo writable || echo denied)
echo mknod=$(mknod /tmp/null c 1 3 2>/dev/null && echo ok || echo denied)
echo mount=$(mkdir /tmp/m && mount -t tmpfs none /tmp/m 2>/dev/null && echo ok || echo denied)
echo path=$PATH
exit 7`
	for name, rt := range runtimesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := testenv.UniqueName(t, "spec")
			in := Input{ID: id, Config: &container.Config{Cmd: []string{"sh", "-c", script}}, Host: &container.HostConfig{}}
			out, errOut, code := runSpec(t, rt, in)
			if code != 7 {
				t.Fatalf("exit code %d, want 7\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			r := report(out)
			want := map[string]string{
				"uid":         "0",
				"capeff":      defaultCapEff,
				"capbnd":      defaultCapEff,
				"seccomp":     "2",
				"nnp":         "0",
				"shm":         "65536",
				"hostname":    id[:12],
				"etchostname": id[:12],
				"hosts":       "127.0.0.1 localhost",
				"timerlist":   "0",
				"procsys":     "denied",
				"sys":         "denied",
				"root":        "writable",
				"mknod":       "ok",
				"mount":       "denied",
				"path":        DefaultPathEnv,
			}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("%s = %q, want %q", k, r[k], v)
				}
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}
}

// TestRunOptions runs a container with the options people use most: a
// user, a read-only rootfs with a tmpfs, a smaller /dev/shm, ulimits,
// no-new-privileges, dropped and added capabilities, binds and --init.
func TestRunOptions(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	initPath := filepath.Join(testenv.BinDir(t), "berth-init")
	if _, err := os.Stat(initPath); err != nil {
		t.Fatalf("no %s: run make first", initPath)
	}
	script := `echo uid=$(id -u) gid=$(id -g)
echo groups=$(id -G)
echo shm=$(df -k /dev/shm | awk 'NR==2{print $2}')
echo root=$(touch /written 2>/dev/null && echo writable || echo denied)
echo tmp=$(touch /tmp/written 2>/dev/null && echo writable || echo denied)
echo nofile=$(ulimit -n)
echo nnp=$(grep NoNewPrivs /proc/self/status | cut -f2)
echo capbnd=$(grep CapBnd /proc/self/status | cut -f2)
echo pid1=$(tr '\0' ' ' < /proc/1/cmdline)
echo mypid=$$
echo cwd=$(pwd)
echo env=$FOO
echo rodata=$(cat /ro/hello)
echo rowrite=$(touch /ro/x 2>/dev/null && echo writable || echo denied)
echo rwwrite=$(echo from-container > /rw/out 2>/dev/null && echo ok || echo denied)
exit 3`
	for name, rt := range runtimesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			roDir, rwDir := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(roDir, "hello"), []byte("hi\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(rwDir, 0o777); err != nil {
				t.Fatal(err)
			}
			in := Input{
				ID: testenv.UniqueName(t, "spec"),
				Config: &container.Config{
					User:       testenv.TestUser,
					Cmd:        []string{"sh", "-c", script},
					WorkingDir: "/home/berth",
					Env:        []string{"FOO=bar"},
				},
				Host: &container.HostConfig{
					ReadonlyRootfs: true,
					Tmpfs:          map[string]string{"/tmp": "size=1m"},
					ShmSize:        32 << 20,
					SecurityOpt:    []string{"no-new-privileges"},
					CapDrop:        []string{"ALL"},
					CapAdd:         []string{"chown", "kill"},
					GroupAdd:       []string{"29"},
					Binds:          []string{roDir + ":/ro:ro", rwDir + ":/rw"},
					Init:           ptr(true),
					Resources: container.Resources{
						Ulimits:   []*container.Ulimit{{Name: "nofile", Soft: 512, Hard: 1024}},
						Memory:    64 << 20,
						PidsLimit: ptr[int64](64),
						NanoCPUs:  500_000_000,
					},
				},
				InitPath: initPath,
			}
			out, errOut, code := runSpec(t, rt, in)
			if code != 3 {
				t.Fatalf("exit code %d, want 3 (from the command, through berth-init)\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			r := report(out)
			want := map[string]string{
				"uid": "1000 gid=1000",
				// id prints the gid, then the kernel's sorted list.
				"groups":  "1000 29 " + strconv.Itoa(testenv.TestSupplementaryGID),
				"shm":     "32768",
				"root":    "denied",
				"tmp":     "writable",
				"nofile":  "512",
				"nnp":     "1",
				"capbnd":  "0000000000000021", // CHOWN and KILL
				"cwd":     "/home/berth",
				"env":     "bar",
				"rodata":  "hi",
				"rowrite": "denied",
				"rwwrite": "ok",
			}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("%s = %q, want %q", k, r[k], v)
				}
			}
			if b, err := os.ReadFile(filepath.Join(rwDir, "out")); err != nil || string(b) != "from-container\n" {
				t.Errorf("bind write: %q %v", b, err)
			}
			if r["mypid"] == "1" || !strings.HasPrefix(r["pid1"], InitPathInContainer+" -- sh -c ") {
				t.Errorf("pid 1 is %q, the command pid %s: berth-init is not in front", r["pid1"], r["mypid"])
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}
}

// TestRunPrivileged: all the daemon's capabilities, no seccomp, writable
// /sys, no masked paths, the host's devices.
func TestRunPrivileged(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	script := `echo capeff=$(grep CapEff /proc/self/status | cut -f2)
echo seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2)
echo timerlist=$(test $(wc -c < /proc/timer_list) -gt 0 && echo visible || echo masked)
echo null=$(test -c /dev/null && echo ok || echo missing)
echo kmsg=$(test -c /dev/kmsg && echo ok || echo missing)
echo mount=$(mkdir /tmp/m && mount -t tmpfs none /tmp/m 2>/dev/null && echo ok || echo denied)`
	// A host device no container gets unless privileged.
	if fi, err := os.Stat("/dev/kmsg"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("the host has no /dev/kmsg to check device passing with: %v", err)
	}
	mask, err := statusMask("CapEff")
	if err != nil {
		t.Fatal(err)
	}
	for name, rt := range runtimesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := Input{ID: testenv.UniqueName(t, "spec"), Config: &container.Config{Cmd: []string{"sh", "-c", script}}, Host: &container.HostConfig{Privileged: true}}
			out, errOut, code := runSpec(t, rt, in)
			if code != 0 {
				t.Fatalf("exit code %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			r := report(out)
			want := map[string]string{
				"capeff":    strings.Repeat("0", 16-len(strconv.FormatUint(mask, 16))) + strconv.FormatUint(mask, 16),
				"seccomp":   "0",
				"timerlist": "visible",
				"null":      "ok",
				"kmsg":      "ok",
				"mount":     "ok",
			}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("%s = %q, want %q", k, r[k], v)
				}
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}
}
