package testenv

import (
	"bytes"
	"fmt"
	"os"
)

// ProcState reads process pid's state letter and parent from
// /proc/PID/stat; ok is false when pid is gone.
func ProcState(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) STATE PPID ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	state = b[i+2]
	if _, err := fmt.Sscan(string(b[i+3:]), &ppid); err != nil {
		return state, 0, true
	}
	return state, ppid, true
}

// Alive reports whether pid is a process that has not exited (a zombie
// has).
func Alive(pid int) bool {
	state, _, ok := ProcState(pid)
	return ok && state != 'Z' && state != 'X'
}

// IsZombie reports whether pid has exited and waits to be reaped.
func IsZombie(pid int) bool {
	state, _, ok := ProcState(pid)
	return ok && state == 'Z'
}
