package daemontest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cleanupTimeout bounds each wait of the cleanup (processes to die,
// cgroups to empty): the machine may be loaded, but a process that ignores
// SIGKILL for this long is stuck in the kernel and waiting more won't help.
const cleanupTimeout = 10 * time.Second

// cleanup stops the daemon and removes everything it may have left, in the
// order that lets each step succeed: processes first (they hold mounts and
// cgroups), then mounts, then cgroups, then the network, then the files.
func (d *Daemon) cleanup() error {
	var errs []error
	mounts, err := cgroupMounts()
	if err != nil {
		errs = append(errs, err)
	}
	if d.target == Docker {
		// dockerd stops every container on shutdown, waiting up to its
		// stop timeout for each; ending them first makes its shutdown
		// quick. berthd leaves them running (live restore) and is left to
		// show that it stops promptly.
		if err := killCgroups(mounts, d.prefix); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.stop(); err != nil {
		errs = append(errs, err)
	}
	if err := killByPath(d.root); err != nil {
		errs = append(errs, err)
	}
	if err := killCgroups(mounts, d.prefix); err != nil {
		errs = append(errs, err)
	}
	if err := unmountUnder(d.root); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroups(mounts, d.prefix); err != nil {
		errs = append(errs, err)
	}
	if d.target == Berth {
		// Bridges, veths and firewall tables outlive berthd (live
		// restore) and carry the prefix.
		if err := RemoveNetworking(d.prefix); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(d.root); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killByPath SIGKILLs every process (but this one) whose command line has
// an argument naming path or a file under it, and waits until they are
// gone. Shims, runtimes and containerd name the exec root in their
// arguments; the containers they run do not, and killCgroups finds those.
func killByPath(path string) error {
	deadline := time.Now().Add(cleanupTimeout)
	for {
		pids, err := pidsByPath(path)
		if err != nil || len(pids) == 0 {
			return err
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes naming %s still alive after SIGKILL: %v", path, pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pidsByPath lists live (not zombie) processes whose argv names path.
func pidsByPath(path string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	needle := []byte(path + "/")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 { // gone, or a zombie or kernel thread
			continue
		}
		for _, arg := range bytes.Split(cmdline, []byte{0}) {
			// "/tmp/bt-12" must not match "/tmp/bt-123/x": compare with
			// a trailing slash on both sides.
			if bytes.Contains(append(arg, '/'), needle) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids, nil
}

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	path string
	v2   bool
}

// cgroupMounts lists the host's cgroup hierarchies from mountinfo (v1
// controllers, named hierarchies, and cgroup2), whatever the layout.
func cgroupMounts() ([]cgroupMount, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SRC SUPER
		sep := indexOf(fields, "-")
		if sep < 0 || sep+1 >= len(fields) || len(fields) < 5 {
			continue
		}
		switch fields[sep+1] {
		case "cgroup":
			out = append(out, cgroupMount{path: unescapeMountPath(fields[4])})
		case "cgroup2":
			out = append(out, cgroupMount{path: unescapeMountPath(fields[4]), v2: true})
		}
	}
	return out, s.Err()
}

func indexOf(fields []string, s string) int {
	for i, f := range fields {
		if f == s {
			return i
		}
	}
	return -1
}

// killCgroups thaws, then SIGKILLs, every process in a cgroup under
// /<prefix> in any hierarchy, until they are all gone: the containers,
// whose command lines name nothing of ours.
func killCgroups(mounts []cgroupMount, prefix string) error {
	deadline := time.Now().Add(cleanupTimeout)
	for {
		var pids []int
		for _, m := range mounts {
			dirs, _ := cgroupDirs(filepath.Join(m.path, prefix))
			for _, dir := range dirs {
				thaw(dir, m.v2)
				pids = append(pids, cgroupPids(dir)...)
			}
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes in cgroups under /%s still alive after SIGKILL: %v", prefix, pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// thaw unfreezes a paused container's cgroup: a frozen process cannot act
// on SIGKILL.
func thaw(dir string, v2 bool) {
	if v2 {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
		return
	}
	if _, err := os.Stat(filepath.Join(dir, "freezer.state")); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
	}
}

func cgroupPids(dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cgroupDirs lists dir and every cgroup below it, children after their
// parents. A missing dir is an empty list.
func cgroupDirs(dir string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	return dirs, err
}

// removeCgroups removes /<prefix> and everything below it in every
// hierarchy, deepest first, retrying while the kernel still counts a dying
// process in them.
func removeCgroups(mounts []cgroupMount, prefix string) error {
	var errs []error
	for _, m := range mounts {
		dirs, err := cgroupDirs(filepath.Join(m.path, prefix))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := rmdirRetry(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func rmdirRetry(dir string) error {
	deadline := time.Now().Add(cleanupTimeout)
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// unmountUnder detaches every mount at or below root in our mount
// namespace, topmost first, until none is left (mounts may be stacked).
func unmountUnder(root string) error {
	deadline := time.Now().Add(cleanupTimeout)
	for {
		targets, err := mountsUnder(root)
		if err != nil || len(targets) == 0 {
			return err
		}
		var errs []error
		for _, m := range targets {
			err := syscall.Unmount(m, syscall.MNT_DETACH)
			if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, &os.PathError{Op: "umount", Path: m, Err: err})
			}
		}
		if len(errs) > 0 || time.Now().After(deadline) {
			return fmt.Errorf("mounts left under %s: %v: %w", root, targets, errors.Join(errs...))
		}
	}
}

// mountsUnder lists the mount points at or below root, the latest mounted
// first (mountinfo lists them in mount order), so stacked mounts come off
// top down and a child before its parent.
func mountsUnder(root string) ([]string, error) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if p == root || strings.HasPrefix(p, root+"/") {
			out = append(out, p)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space,
// \011, \012, \134).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
