// Package linux holds thin wrappers over Linux system calls shared by
// several packages: errors that carry the operation, path and flags, and
// EINTR retries.
package linux

import (
	"errors"

	"golang.org/x/sys/unix"
)

// MountError is a failed mount(2), with everything needed to understand it.
type MountError struct {
	Op     string // "mount", "remount", "bind", "move", "propagation", "umount"
	Source string
	Target string
	Type   string
	Flags  string // by name
	Data   string
	Err    error
}

func (e *MountError) Error() string {
	s := e.Op + " "
	if e.Source != "" {
		s += e.Source + " "
	}
	s += "on " + e.Target
	if e.Type != "" {
		s += " (type " + e.Type + ")"
	}
	if e.Flags != "" && e.Flags != "0" {
		s += " flags " + e.Flags
	}
	if e.Data != "" {
		s += " data " + e.Data
	}
	return s + ": " + e.Err.Error()
}

func (e *MountError) Unwrap() error { return e.Err }

// Mount calls mount(2), retrying on EINTR. displayTarget, when not empty,
// names the target in errors instead of target (which is often a
// /proc/self/fd/N path).
func Mount(op, source, target, displayTarget, fstype string, flags uintptr, data string) error {
	for {
		err := unix.Mount(source, target, fstype, flags, data)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if displayTarget == "" {
			displayTarget = target
		}
		return &MountError{Op: op, Source: source, Target: displayTarget, Type: fstype, Flags: MountFlagNames(flags), Data: data, Err: err}
	}
}

// Unmount calls umount2(2), retrying on EINTR.
func Unmount(target string, flags int) error {
	for {
		err := unix.Unmount(target, flags)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return &MountError{Op: "umount", Target: target, Flags: UnmountFlagNames(flags), Err: err}
	}
}
