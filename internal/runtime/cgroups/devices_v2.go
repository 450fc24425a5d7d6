package cgroups

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// setDevicesV2 compiles rules into a device program and attaches it to the
// cgroup at dir, replacing the one a previous Set attached.
//
// Programs are attached with BPF_F_ALLOW_MULTI: the kernel then runs ours
// and those of every ancestor (systemd's, a parent container's), and an
// access passes only if all allow it, so a container can never widen what
// its parent grants. Programs outlive our file descriptors: the cgroup
// holds them until it is removed.
//
// An update attaches the new program in place of the old one with
// BPF_F_REPLACE, so there is no moment without a filter; if that fails
// (a kernel before 5.6), it attaches the new one beside the old, then
// detaches the old, which is stricter for that instant, never looser.
func setDevicesV2(dir string, rules []specs.LinuxDeviceCgroup) error {
	insns, allowAll := deviceFilter(rules)
	fd, err := openFile(dir, unix.O_DIRECTORY|unix.O_RDONLY)
	if err != nil {
		return fileError("open", dir, err)
	}
	defer unix.Close(fd)

	ours, err := ourDevicePrograms(fd)
	if err != nil {
		return fmt.Errorf("devices: %s: %w", dir, err)
	}
	defer closeAll(ours)
	old := ours // still to detach

	if !allowAll {
		code, err := assemble(insns)
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		prog, err := loadDeviceProgram(code, deviceProgName)
		if err != nil {
			return fmt.Errorf("devices: load the eBPF device filter: %w: %w", bpfClass(err), err)
		}
		defer unix.Close(prog)
		replaced := false
		if len(old) == 1 {
			if err := attachDeviceProgram(fd, prog, old[0]); err == nil {
				replaced = true
				old = nil
			}
		}
		if !replaced {
			if err := attachDeviceProgram(fd, prog, -1); err != nil {
				return fmt.Errorf("devices: attach the eBPF device filter to %s: %w: %w", dir, bpfClass(err), err)
			}
		}
	}
	for _, p := range old {
		err := detachDeviceProgram(fd, p)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("devices: detach the previous device filter from %s: %w: %w", dir, bpfClass(err), err)
		}
	}
	return nil
}

// ourDevicePrograms returns descriptors of the device programs Berth
// attached to the cgroup open at fd, found by name.
func ourDevicePrograms(fd int) ([]int, error) {
	ids, err := queryDevicePrograms(fd)
	if err != nil {
		return nil, fmt.Errorf("list attached device filters: %w: %w", bpfClass(err), err)
	}
	var ours []int
	for _, id := range ids {
		p, err := openProgram(id)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // detached and freed meanwhile
			}
			closeAll(ours)
			return nil, fmt.Errorf("open attached program %d: %w: %w", id, bpfClass(err), err)
		}
		name, err := programName(p)
		if err != nil || name != deviceProgName {
			unix.Close(p)
			continue
		}
		ours = append(ours, p)
	}
	return ours, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func bpfClass(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return errdefs.ErrForbidden
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		// No bpf(2), or a kernel without cgroup device programs.
		return errdefs.ErrNotImplemented
	case errors.Is(err, unix.EINVAL):
		return errdefs.ErrInvalidParameter
	}
	return errdefs.ErrUnavailable
}
