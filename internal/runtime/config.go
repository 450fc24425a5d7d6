package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxConfigBytes bounds config.json; real ones are a few kilobytes.
const maxConfigBytes = 16 << 20

// LoadSpec reads and decodes <bundle>/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	_, spec, err := loadSpec(bundle)
	return spec, err
}

// loadSpec reads and decodes <bundle>/config.json; it returns the JSON
// value too, which the container's state keeps as it is.
func loadSpec(bundle string) ([]byte, *specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("bundle %s has no config.json: %w", bundle, errdefs.ErrNotFound)
		}
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() > maxConfigBytes {
		return nil, nil, fmt.Errorf("%s is %d bytes, larger than %d: %w", path, st.Size(), maxConfigBytes, errdefs.ErrInvalidParameter)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes: %w", path, maxConfigBytes, errdefs.ErrInvalidParameter)
	}
	// One JSON value, as before: what may follow it is not looked at.
	var spec specs.Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&spec); err != nil {
		return nil, nil, fmt.Errorf("%s: invalid JSON: %v: %w", path, err, errdefs.ErrInvalidParameter)
	}
	return data[:dec.InputOffset()], &spec, nil
}

// validator is one named check of a spec; all run before any side effect.
type validator struct {
	name  string
	check func(s *specs.Spec, bundle string) error
}

var specValidators = []validator{
	{"ociVersion", checkVersion},
	{"root", checkRoot},
	{"process", checkProcess},
	{"linux", checkLinuxPresent},
	{"namespaces", checkNamespaces},
	{"idMappings", checkIDMappings},
	{"hostname", checkHostname},
	{"mounts", checkMounts},
	{"sysctl", checkSysctl},
	{"devices", checkDevices},
	{"cgroupsPath", checkCgroupsPath},
	{"personality", checkPersonality},
	{"timeOffsets", checkTimeOffsets},
	{"hooks", checkHooks},
	{"unsupported", checkUnsupported},
}

// ValidateSpec runs every check and reports all failures at once.
func ValidateSpec(s *specs.Spec, bundle string) error {
	var errs []error
	for _, v := range specValidators {
		if err := v.check(s, bundle); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid config.json: %w", errors.Join(errs...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidParameter)...)
}

// checkVersion accepts every release from 1.0.0 up to 1.3.x, with
// pre-release suffixes ("1.0.2-dev").
func checkVersion(s *specs.Spec, _ string) error {
	v := s.Version
	core, _, _ := strings.Cut(v, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return invalid("ociVersion %q is not a semantic version", v)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || (len(p) > 1 && p[0] == '0') {
			return invalid("ociVersion %q is not a semantic version", v)
		}
		n[i] = x
	}
	if n[0] != 1 || n[1] > 3 {
		return invalid("ociVersion %q is not supported (1.0.0 to 1.3.x are)", v)
	}
	return nil
}

func checkRoot(s *specs.Spec, bundle string) error {
	if s.Root == nil || s.Root.Path == "" {
		return invalid("root.path is required")
	}
	p := s.Root.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rootfs %s does not exist: %w", p, errdefs.ErrNotFound)
		}
		return fmt.Errorf("rootfs %s: %w", p, err)
	}
	if !st.IsDir() {
		return invalid("rootfs %s is not a directory", p)
	}
	return nil
}

// checkProcess validates process when present; a config without one can be
// created, and start then fails, as the spec says.
func checkProcess(s *specs.Spec, _ string) error {
	if s.Process == nil {
		return nil
	}
	return validateProcess(s.Process)
}

func validateProcess(p *specs.Process) error {
	var errs []error
	if len(p.Args) == 0 && p.CommandLine == "" {
		errs = append(errs, invalid("process.args must not be empty"))
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		errs = append(errs, invalid("process.cwd %q must be an absolute path", p.Cwd))
	}
	for _, e := range p.Env {
		if !strings.Contains(e, "=") {
			errs = append(errs, invalid("process.env entry %q is not NAME=value", e))
		}
	}
	if c := p.Capabilities; c != nil {
		for field, names := range map[string][]string{
			"bounding": c.Bounding, "effective": c.Effective, "inheritable": c.Inheritable,
			"permitted": c.Permitted, "ambient": c.Ambient,
		} {
			if _, err := parseCapabilities(field, names); err != nil {
				errs = append(errs, err)
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range p.Rlimits {
		if !rlimitResources.has(r.Type) {
			errs = append(errs, invalid("process.rlimits: unknown type %q", r.Type))
		}
		if seen[r.Type] {
			errs = append(errs, invalid("process.rlimits: %s given twice", r.Type))
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			errs = append(errs, invalid("process.rlimits: %s soft limit %d is above hard limit %d", r.Type, r.Soft, r.Hard))
		}
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		errs = append(errs, invalid("process.oomScoreAdj %d is outside -1000..1000", *p.OOMScoreAdj))
	}
	if p.IOPriority != nil {
		if !ioPrioClasses.has(p.IOPriority.Class) {
			errs = append(errs, invalid("process.ioPriority.class %q is unknown", p.IOPriority.Class))
		}
		if p.IOPriority.Priority < 0 || p.IOPriority.Priority > 7 {
			errs = append(errs, invalid("process.ioPriority.priority %d is outside 0..7", p.IOPriority.Priority))
		}
	}
	if p.Scheduler != nil {
		if !schedPolicies.has(p.Scheduler.Policy) {
			errs = append(errs, invalid("process.scheduler.policy %q is unknown", p.Scheduler.Policy))
		}
		for _, f := range p.Scheduler.Flags {
			if !schedFlags.has(f) {
				errs = append(errs, invalid("process.scheduler.flags: %q is unknown", f))
			}
		}
	}
	if p.ExecCPUAffinity != nil {
		for _, c := range []string{p.ExecCPUAffinity.Initial, p.ExecCPUAffinity.Final} {
			if c == "" {
				continue
			}
			if _, err := parseCPUList(c); err != nil {
				errs = append(errs, invalid("process.execCPUAffinity %q: %v", c, err))
			}
		}
	}
	return errors.Join(errs...)
}

func checkLinuxPresent(s *specs.Spec, _ string) error {
	if s.Linux == nil {
		return invalid("the linux section is required on Linux")
	}
	return nil
}

// namespaceFlags maps the spec's namespace types to clone flags.
var namespaceFlags = table[specs.LinuxNamespaceType, uint32]{
	{specs.PIDNamespace, unix.CLONE_NEWPID},
	{specs.NetworkNamespace, unix.CLONE_NEWNET},
	{specs.MountNamespace, unix.CLONE_NEWNS},
	{specs.IPCNamespace, unix.CLONE_NEWIPC},
	{specs.UTSNamespace, unix.CLONE_NEWUTS},
	{specs.UserNamespace, unix.CLONE_NEWUSER},
	{specs.CgroupNamespace, unix.CLONE_NEWCGROUP},
	{specs.TimeNamespace, unix.CLONE_NEWTIME},
}

// nsProcName is each namespace's file name under /proc/<pid>/ns.
var nsProcName = table[specs.LinuxNamespaceType, string]{
	{specs.PIDNamespace, "pid"},
	{specs.NetworkNamespace, "net"},
	{specs.MountNamespace, "mnt"},
	{specs.IPCNamespace, "ipc"},
	{specs.UTSNamespace, "uts"},
	{specs.UserNamespace, "user"},
	{specs.CgroupNamespace, "cgroup"},
	{specs.TimeNamespace, "time"},
}

func checkNamespaces(s *specs.Spec, _ string) error {
	if s.Linux == nil {
		return nil
	}
	var errs []error
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if !namespaceFlags.has(ns.Type) {
			errs = append(errs, invalid("linux.namespaces: unknown namespace type %q", ns.Type))
			continue
		}
		if seen[ns.Type] {
			errs = append(errs, invalid("linux.namespaces: %s namespace given twice", ns.Type))
		}
		seen[ns.Type] = true
		if ns.Path == "" {
			continue
		}
		if !filepath.IsAbs(ns.Path) {
			errs = append(errs, invalid("linux.namespaces: %s namespace path %q is not absolute", ns.Type, ns.Path))
			continue
		}
		if err := checkNamespaceFile(ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkNamespaceFile makes sure a path names a namespace of the right
// type, with the NS_GET_NSTYPE ioctl.
func checkNamespaceFile(ns specs.LinuxNamespace) error {
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("linux.namespaces: %s namespace path %s does not exist: %w", ns.Type, ns.Path, errdefs.ErrNotFound)
		}
		return fmt.Errorf("linux.namespaces: open %s namespace %s: %w", ns.Type, ns.Path, err)
	}
	defer unix.Close(fd)
	const nsGetNSType = 0xb703 // _IO(0xb7, 0x3)
	t, err := unix.IoctlRetInt(fd, nsGetNSType)
	if err != nil {
		return invalid("linux.namespaces: %s is not a namespace file (%v)", ns.Path, err)
	}
	if uint32(t) != namespaceFlags.get(ns.Type) {
		return invalid("linux.namespaces: %s is not a %s namespace", ns.Path, ns.Type)
	}
	return nil
}

func hasNewNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path == ""
		}
	}
	return false
}

func hasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func checkIDMappings(s *specs.Spec, _ string) error {
	if s.Linux == nil {
		return nil
	}
	l := s.Linux
	if len(l.UIDMappings) == 0 && len(l.GIDMappings) == 0 {
		if hasNewNamespace(s, specs.UserNamespace) {
			return invalid("a new user namespace needs linux.uidMappings and linux.gidMappings")
		}
		return nil
	}
	if !hasNewNamespace(s, specs.UserNamespace) {
		return invalid("linux.uidMappings and linux.gidMappings need a new user namespace")
	}
	if len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0 {
		return invalid("linux.uidMappings and linux.gidMappings must both be set")
	}
	for _, set := range [][]specs.LinuxIDMapping{l.UIDMappings, l.GIDMappings} {
		if len(set) > 340 {
			return invalid("at most 340 id mappings are allowed")
		}
		for _, m := range set {
			if m.Size == 0 {
				return invalid("id mapping %d:%d has size 0", m.ContainerID, m.HostID)
			}
		}
	}
	return nil
}

func checkHostname(s *specs.Spec, _ string) error {
	if s.Hostname == "" && s.Domainname == "" {
		return nil
	}
	if !hasNewNamespace(s, specs.UTSNamespace) && !hasNamespace(s, specs.UTSNamespace) {
		return invalid("setting hostname or domainname needs a UTS namespace")
	}
	return nil
}

func checkMounts(s *specs.Spec, _ string) error {
	var errs []error
	for i, m := range s.Mounts {
		if m.Destination == "" {
			errs = append(errs, invalid("mounts[%d]: destination is empty", i))
		}
		if strings.IndexByte(m.Destination, 0) >= 0 || strings.IndexByte(m.Source, 0) >= 0 {
			errs = append(errs, invalid("mounts[%d]: path holds a NUL byte", i))
		}
		if (len(m.UIDMappings) > 0) != (len(m.GIDMappings) > 0) {
			errs = append(errs, invalid("mounts[%d]: uidMappings and gidMappings must be given together", i))
		}
	}
	return errors.Join(errs...)
}

// ipcSysctls are the kernel.* keys an IPC namespace owns.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// checkSysctl refuses sysctls that would change the host: only namespaced
// keys are allowed, and only when the container has its own namespace.
func checkSysctl(s *specs.Spec, _ string) error {
	if s.Linux == nil {
		return nil
	}
	var errs []error
	for key := range s.Linux.Sysctl {
		k := strings.ReplaceAll(key, "/", ".")
		switch {
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if !hasNamespace(s, specs.IPCNamespace) {
				errs = append(errs, invalid("sysctl %q needs an IPC namespace", key))
			}
		case strings.HasPrefix(k, "net."):
			if !hasNamespace(s, specs.NetworkNamespace) {
				errs = append(errs, invalid("sysctl %q needs a network namespace", key))
			}
		case k == "kernel.domainname":
			if !hasNamespace(s, specs.UTSNamespace) {
				errs = append(errs, invalid("sysctl %q needs a UTS namespace", key))
			}
		case k == "kernel.hostname":
			errs = append(errs, invalid("sysctl %q: use the hostname field", key))
		default:
			errs = append(errs, invalid("sysctl %q is not namespaced: it would change the host", key))
		}
		if strings.Contains(key, "..") {
			errs = append(errs, invalid("sysctl %q is malformed", key))
		}
	}
	return errors.Join(errs...)
}

func checkDevices(s *specs.Spec, _ string) error {
	if s.Linux == nil {
		return nil
	}
	var errs []error
	for i, d := range s.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			errs = append(errs, invalid("linux.devices[%d]: path %q is not absolute", i, d.Path))
		}
		switch d.Type {
		case "c", "u", "b":
		case "p":
		default:
			errs = append(errs, invalid("linux.devices[%d]: type %q is not one of c, b, u, p", i, d.Type))
		}
	}
	for i, d := range resourcesDevices(s) {
		switch d.Type {
		case "", "a", "c", "b":
		default:
			errs = append(errs, invalid("linux.resources.devices[%d]: type %q is not one of a, c, b", i, d.Type))
		}
		for _, c := range d.Access {
			if c != 'r' && c != 'w' && c != 'm' {
				errs = append(errs, invalid("linux.resources.devices[%d]: access %q is not made of r, w, m", i, d.Access))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func resourcesDevices(s *specs.Spec) []specs.LinuxDeviceCgroup {
	if s.Linux == nil || s.Linux.Resources == nil {
		return nil
	}
	return s.Linux.Resources.Devices
}

func checkCgroupsPath(s *specs.Spec, _ string) error {
	if s.Linux == nil || s.Linux.CgroupsPath == "" {
		return nil
	}
	p := s.Linux.CgroupsPath
	if !strings.HasPrefix(p, "/") && strings.Count(p, ":") == 2 {
		return fmt.Errorf("cgroupsPath %q is systemd-style (slice:prefix:name); systemd cgroups are not supported: %w", p, errdefs.ErrNotImplemented)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return invalid("cgroupsPath %q must not contain ..", p)
		}
	}
	return nil
}

func checkPersonality(s *specs.Spec, _ string) error {
	if s.Linux == nil || s.Linux.Personality == nil {
		return nil
	}
	switch s.Linux.Personality.Domain {
	case specs.PerLinux, specs.PerLinux32:
		return nil
	}
	return invalid("linux.personality.domain %q is not LINUX or LINUX32", s.Linux.Personality.Domain)
}

func checkTimeOffsets(s *specs.Spec, _ string) error {
	if s.Linux == nil || len(s.Linux.TimeOffsets) == 0 {
		return nil
	}
	if !hasNewNamespace(s, specs.TimeNamespace) {
		return invalid("linux.timeOffsets need a new time namespace")
	}
	for clock := range s.Linux.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return invalid("linux.timeOffsets: clock %q is not monotonic or boottime", clock)
		}
	}
	return nil
}

func checkHooks(s *specs.Spec, _ string) error {
	if s.Hooks == nil {
		return nil
	}
	var errs []error
	for kind, hooks := range map[string][]specs.Hook{
		"prestart": prestartHooks(s.Hooks), "createRuntime": s.Hooks.CreateRuntime,
		"createContainer": s.Hooks.CreateContainer, "startContainer": s.Hooks.StartContainer,
		"poststart": s.Hooks.Poststart, "poststop": s.Hooks.Poststop,
	} {
		for i, h := range hooks {
			if !filepath.IsAbs(h.Path) {
				errs = append(errs, invalid("hooks.%s[%d]: path %q is not absolute", kind, i, h.Path))
			}
			if h.Timeout != nil && *h.Timeout <= 0 {
				errs = append(errs, invalid("hooks.%s[%d]: timeout must be positive", kind, i))
			}
		}
	}
	return errors.Join(errs...)
}

// checkUnsupported names the fields this runtime knows but cannot honour:
// silently ignoring them would run a container less isolated or less
// equipped than asked.
func checkUnsupported(s *specs.Spec, _ string) error {
	if s.Linux == nil {
		return nil
	}
	var errs []error
	if s.Linux.IntelRdt != nil {
		errs = append(errs, fmt.Errorf("linux.intelRdt is not supported: %w", errdefs.ErrNotImplemented))
	}
	if len(s.Linux.NetDevices) > 0 {
		errs = append(errs, fmt.Errorf("linux.netDevices are not supported yet: %w", errdefs.ErrNotImplemented))
	}
	if s.Linux.MemoryPolicy != nil {
		errs = append(errs, fmt.Errorf("linux.memoryPolicy is not supported yet: %w", errdefs.ErrNotImplemented))
	}
	for i, m := range s.Mounts {
		if o := parseMountOptions(m.Options); o.idmap || len(m.UIDMappings) > 0 {
			errs = append(errs, fmt.Errorf("mounts[%d] (%s): id-mapped mounts are not supported yet: %w", i, m.Destination, errdefs.ErrNotImplemented))
		}
	}
	return errors.Join(errs...)
}
