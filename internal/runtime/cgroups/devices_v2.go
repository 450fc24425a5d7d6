package cgroups

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
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
	defer func() {
		for _, p := range ours {
			p.Close()
		}
	}()
	old := ours // still to detach

	if !allowAll {
		prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
			Name:         deviceProgName,
			Type:         ebpf.CGroupDevice,
			License:      "Apache-2.0",
			Instructions: insns,
		}, ebpf.ProgramOptions{})
		if err != nil {
			return fmt.Errorf("devices: load the eBPF device filter: %w: %w", bpfClass(err), err)
		}
		defer prog.Close()
		opts := link.RawAttachProgramOptions{
			Target:  fd,
			Program: prog,
			Attach:  ebpf.AttachCGroupDevice,
			Flags:   unix.BPF_F_ALLOW_MULTI,
		}
		replaced := false
		if len(old) == 1 {
			opts.Anchor = link.ReplaceProgram(old[0])
			if err := link.RawAttachProgram(opts); err == nil {
				replaced = true
				old = nil
			}
			opts.Anchor = nil
		}
		if !replaced {
			if err := link.RawAttachProgram(opts); err != nil {
				return fmt.Errorf("devices: attach the eBPF device filter to %s: %w: %w", dir, bpfClass(err), err)
			}
		}
	}
	for _, p := range old {
		err := link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: p, Attach: ebpf.AttachCGroupDevice})
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("devices: detach the previous device filter from %s: %w: %w", dir, bpfClass(err), err)
		}
	}
	return nil
}

// ourDevicePrograms returns the device programs Berth attached to the
// cgroup open at fd, found by name.
func ourDevicePrograms(fd int) ([]*ebpf.Program, error) {
	res, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return nil, fmt.Errorf("list attached device filters: %w: %w", bpfClass(err), err)
	}
	var ours []*ebpf.Program
	for _, ap := range res.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // detached meanwhile
			}
			for _, o := range ours {
				o.Close()
			}
			return nil, fmt.Errorf("open attached program %d: %w: %w", ap.ID, bpfClass(err), err)
		}
		info, err := p.Info()
		if err != nil || info.Name != deviceProgName {
			p.Close()
			continue
		}
		ours = append(ours, p)
	}
	return ours, nil
}

func bpfClass(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return errdefs.ErrForbidden
	case errors.Is(err, ebpf.ErrNotSupported), errors.Is(err, unix.EOPNOTSUPP):
		return errdefs.ErrNotImplemented
	case errors.Is(err, unix.EINVAL):
		return errdefs.ErrInvalidParameter
	}
	return errdefs.ErrUnavailable
}
