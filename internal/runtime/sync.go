package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// After the nsenter stage, the runtime and the init talk in frames: a
// 4-byte length, then a JSON message. Explicit frames, not a streaming
// decoder, so no side reads ahead of what the other has sent.
const maxFrame = 32 << 20

type msgType string

const (
	msgConfig      msgType = "config"       // runtime → init: initConfig
	msgRunHooks    msgType = "run-hooks"    // init → runtime: run prestart and createRuntime hooks now
	msgHooksDone   msgType = "hooks-done"   // runtime → init
	msgReady       msgType = "ready"        // init → runtime: created, waiting for start
	msgError       msgType = "error"        // either way
	msgStart       msgType = "start"        // start → init
	msgSeccompFD   msgType = "seccomp-fd"   // init → start/exec: a listener fd follows as SCM_RIGHTS
	msgSeccompDone msgType = "seccomp-done" // start/exec → init: the fd was delivered
)

type syncMsg struct {
	Type  msgType `json:"type"`
	Error string  `json:"error,omitempty"`
	// Config is an initConfig in its own encoding (initwire.go).
	Config []byte `json:"config,omitempty"`
}

func writeFrame(w io.Writer, m *syncMsg) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	buf := make([]byte, 4, 4+len(data))
	binary.LittleEndian.PutUint32(buf, uint32(len(data)))
	_, err = w.Write(append(buf, data...))
	return err
}

func readFrame(r io.Reader) (*syncMsg, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("sync frame of %d bytes is too large", n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	var m syncMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("bad sync frame: %w", err)
	}
	return &m, nil
}

// expect reads one frame and turns an error message into an error.
func expect(r io.Reader, want msgType) (*syncMsg, error) {
	m, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	if m.Type == msgError {
		return nil, errors.New(m.Error)
	}
	if m.Type != want {
		return nil, fmt.Errorf("sync: got %q, want %q", m.Type, want)
	}
	return m, nil
}

// initMode says what the re-executed init is for.
type initMode string

const (
	modeCreate initMode = "create"
	modeExec   initMode = "exec"
)

// initConfig is everything the init needs; after it joins the container's
// mount namespace it cannot read the host's files. It carries only what the
// init uses, not the whole spec, and travels in an encoding of our own
// (initwire.go), not JSON: the init decodes it cold, and encoding/json
// builds a decoder for every type a value can reach (for specs.Spec, about
// 150 types, 0.8 ms; for this one still about half a millisecond). The
// json tags name the fields in logs and tests.
type initConfig struct {
	Mode    initMode       `json:"mode"`
	ID      string         `json:"id"`
	Bundle  string         `json:"bundle"`
	Rootfs  string         `json:"rootfs"`
	Process *specs.Process `json:"process"`
	// HostPid is the init's pid as the runtime sees it, for hook state.
	HostPid int  `json:"host_pid"`
	NoPivot bool `json:"no_pivot,omitempty"`
	// File descriptor numbers in the init; -1 when absent.
	ConsoleFD int `json:"console_fd"`
	ListenFD  int `json:"listen_fd"`
	// StartNow: no start socket; the init goes on to exec right after
	// ready, reporting on the sync socket (run).
	StartNow bool `json:"start_now,omitempty"`
	// FinalizeEarly: the init may give up its privileges and load the
	// seccomp filter before it waits for the start (earlyfinalize.go).
	FinalizeEarly bool `json:"finalize_early,omitempty"`
	// PreserveFDs are passed on to the process as fds 3, 4, ...
	PreserveFDs int `json:"preserve_fds,omitempty"`
	// Cgroups to show at /sys/fs/cgroup for a "cgroup" mount.
	Cgroups []cgroupMount `json:"cgroups,omitempty"`
	// InUserNS is true when the container has a user namespace: device
	// nodes are then bind mounted, not created.
	InUserNS bool `json:"in_user_ns,omitempty"`
	// LatePidsFD is a host cgroup file the init writes LatePidsValue to
	// just before execve (pids_linux.go); -1 when absent.
	LatePidsFD    int    `json:"late_pids_fd"`
	LatePidsValue string `json:"late_pids_value,omitempty"`
	// Passed is, for an adopted spare init (spare_linux.go), how many
	// descriptors follow this config: its stdio, then those ConsoleFD,
	// ListenFD, LatePidsFD, RootfsFD and NetNSFD name by their place in
	// the list (-1: none) until the init has them.
	Passed int `json:"passed,omitempty"`
	// RootfsFD is the root filesystem as a detached mount, to attach at
	// Rootfs; NetNSFD the network namespace to enter. Only with Passed.
	RootfsFD int `json:"rootfs_fd,omitempty"`
	NetNSFD  int `json:"netns_fd,omitempty"`
	// Seccomp is the filter, compiled by the runtime (seccomp.Filter's
	// binary encoding).
	Seccomp []byte `json:"seccomp,omitempty"`

	// From the spec, for the container's init (Mode create).
	Mounts            []specs.Mount           `json:"mounts,omitempty"`
	Devices           []specs.LinuxDevice     `json:"devices,omitempty"`
	MaskedPaths       []string                `json:"masked_paths,omitempty"`
	ReadonlyPaths     []string                `json:"readonly_paths,omitempty"`
	Sysctl            map[string]string       `json:"sysctl,omitempty"`
	Hostname          string                  `json:"hostname,omitempty"`
	Domainname        string                  `json:"domainname,omitempty"`
	ReadonlyRoot      bool                    `json:"readonly_root,omitempty"`
	RootfsPropagation string                  `json:"rootfs_propagation,omitempty"`
	Personality       *specs.LinuxPersonality `json:"personality,omitempty"`
	NewMountNS        bool                    `json:"new_mount_ns,omitempty"`
	NewCgroupNS       bool                    `json:"new_cgroup_ns,omitempty"`
	// RuntimeHooks: prestart or createRuntime hooks exist, which the
	// runtime runs when the init says the environment is ready.
	RuntimeHooks    bool              `json:"runtime_hooks,omitempty"`
	CreateContainer []specs.Hook      `json:"create_container,omitempty"`
	StartContainer  []specs.Hook      `json:"start_container,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
}

// containerInitConfig fills the spec's part of a container init's config,
// but for the seccomp filter.
func containerInitConfig(s *specs.Spec) *initConfig {
	cfg := &initConfig{
		Mode: modeCreate, Process: s.Process, Mounts: s.Mounts, Hostname: s.Hostname, Domainname: s.Domainname,
		ReadonlyRoot: s.Root != nil && s.Root.Readonly, Annotations: s.Annotations,
		NewMountNS:  hasNewNamespace(s, specs.MountNamespace),
		NewCgroupNS: hasNewNamespace(s, specs.CgroupNamespace),
		InUserNS:    hasNamespace(s, specs.UserNamespace),
	}
	if l := s.Linux; l != nil {
		cfg.Devices, cfg.MaskedPaths, cfg.ReadonlyPaths = l.Devices, l.MaskedPaths, l.ReadonlyPaths
		cfg.Sysctl, cfg.RootfsPropagation, cfg.Personality = l.Sysctl, l.RootfsPropagation, l.Personality
	}
	if h := s.Hooks; h != nil {
		cfg.RuntimeHooks = len(prestartHooks(h))+len(h.CreateRuntime) > 0
		cfg.CreateContainer, cfg.StartContainer = h.CreateContainer, h.StartContainer
	}
	cfg.FinalizeEarly = finalizeEarly(s)
	return cfg
}

// cgroupMount describes one hierarchy as the container should see it.
type cgroupMount struct {
	// Dir is the mountpoint's name under /sys/fs/cgroup ("memory",
	// "cpu,cpuacct", "unified", or "" for a pure cgroup2 host).
	Dir string `json:"dir"`
	// Options are the cgroup v1 mount options ("memory", "name=systemd");
	// empty for cgroup2.
	Options string `json:"options"`
	// HostPath is the container's cgroup directory on the host.
	HostPath string `json:"host_path"`
	V2       bool   `json:"v2,omitempty"`
	// Symlinks are extra names for a co-mounted hierarchy ("cpu" and
	// "cpuacct" for "cpu,cpuacct").
	Symlinks []string `json:"symlinks,omitempty"`
}
