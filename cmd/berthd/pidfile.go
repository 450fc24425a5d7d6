package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// writePidfile records the daemon's pid, refusing to start when the file
// names a live process (another berthd on this pid file). The returned
// func removes it.
func writePidfile(path string) (func(), error) {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() {
			if runningBerthd(pid) {
				return nil, fmt.Errorf("pid file %s names a running berthd (pid %d)", path, pid)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	return func() { _ = os.Remove(path) }, nil
}

// runningBerthd reports whether pid is a live berthd: a process named
// berthd that is not a zombie (a SIGKILLed daemon stays one until its
// parent reaps it, and must not block the next start).
func runningBerthd(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, so
	// the state follows the last ')'.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return false
	}
	return s[open+1:end] == "berthd" && s[end+2] != 'Z' && s[end+2] != 'X'
}
