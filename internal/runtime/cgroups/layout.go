package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/errdefs"
)

// Mode names the cgroup layout of a host.
type Mode int

const (
	// Legacy hosts have only cgroup v1 hierarchies.
	Legacy Mode = iota + 1
	// Hybrid hosts have v1 controller hierarchies beside a cgroup2 mount
	// that holds the controllers v1 does not (often none).
	Hybrid
	// Unified hosts have only the cgroup2 hierarchy.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Hierarchy is one mounted cgroup v1 hierarchy.
type Hierarchy struct {
	// ID is the hierarchy's number in /proc/self/cgroup.
	ID int
	// Controllers bound to the hierarchy, as /proc/self/cgroup lists them:
	// "cpu", "cpuacct", … or a named hierarchy such as "name=systemd".
	Controllers []string
	// Mountpoint is where the hierarchy is mounted.
	Mountpoint string
	// Root is the cgroup the mount shows at Mountpoint (the mountinfo root
	// field): "/" on a host, a sub-cgroup for a bind mount.
	Root string
	// Path is the calling process's cgroup in this hierarchy, as
	// /proc/self/cgroup shows it.
	Path string
}

// OwnDir is the directory of the calling process's cgroup.
func (h *Hierarchy) OwnDir() string { return ownDir(h.Mountpoint, h.Root, h.Path) }

// Has reports whether controller is bound to this hierarchy.
func (h *Hierarchy) Has(controller string) bool { return slices.Contains(h.Controllers, controller) }

// UnifiedHierarchy is the mounted cgroup2 hierarchy.
type UnifiedHierarchy struct {
	Mountpoint string
	Root       string
	// Path is the calling process's cgroup (the "0::" line).
	Path string
	// Controllers lists the root's cgroup.controllers: what the hierarchy
	// can give to cgroups below it. Empty on most hybrid hosts.
	Controllers []string
}

// OwnDir is the directory of the calling process's cgroup.
func (u *UnifiedHierarchy) OwnDir() string { return ownDir(u.Mountpoint, u.Root, u.Path) }

// Has reports whether the unified hierarchy holds controller.
func (u *UnifiedHierarchy) Has(controller string) bool {
	return slices.Contains(u.Controllers, controller)
}

// Layout describes the cgroup filesystems visible to the calling process.
// The runtime uses it to build /sys/fs/cgroup inside containers. A Layout
// is shared and must not be modified.
type Layout struct {
	Mode Mode
	// V1 lists every mounted v1 hierarchy, named ones included, in the
	// order of /proc/self/cgroup.
	V1 []Hierarchy
	// Unified is nil when no cgroup2 filesystem is mounted.
	Unified *UnifiedHierarchy
	// HugePageSizes lists the host's hugepage sizes in the runtime-spec's
	// notation ("2MB", "1GB"), from /sys/kernel/mm/hugepages.
	HugePageSizes []string
}

// V1Hierarchy returns the v1 hierarchy that holds controller, or nil.
func (l *Layout) V1Hierarchy(controller string) *Hierarchy {
	for i := range l.V1 {
		if l.V1[i].Has(controller) {
			return &l.V1[i]
		}
	}
	return nil
}

// Available reports whether controller can be used, in v1 or in the
// unified hierarchy.
func (l *Layout) Available(controller string) bool {
	if l.V1Hierarchy(controller) != nil {
		return true
	}
	return l.Unified != nil && l.Unified.Has(controller)
}

var (
	layoutMu     sync.Mutex
	layoutCached *Layout
)

// DetectLayout reads /proc/self/mountinfo and /proc/self/cgroup once per
// process and returns the cached result afterwards: container start is on
// the hot path and the layout of a host does not change under a runtime.
// A process that moves itself to another cgroup keeps the paths it had.
func DetectLayout() (*Layout, error) {
	layoutMu.Lock()
	defer layoutMu.Unlock()
	if layoutCached != nil {
		return layoutCached, nil
	}
	l, err := detectLayout("/proc/self/mountinfo", "/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	layoutCached = l
	return l, nil
}

// cgroupLine is one line of /proc/<pid>/cgroup.
type cgroupLine struct {
	id          int
	controllers []string // empty for the unified hierarchy
	path        string
}

// cgroupMount is a cgroup or cgroup2 line of mountinfo.
type cgroupMount struct {
	mountpoint string
	root       string
	v2         bool
	options    []string // super options: controllers, name=, and flags
}

func detectLayout(mountinfoPath, cgroupPath string) (*Layout, error) {
	cg, err := os.ReadFile(cgroupPath)
	if err != nil {
		return nil, fmt.Errorf("cgroup layout: %w: %w", errdefs.ErrUnavailable, err)
	}
	lines, err := parseProcCgroup(cg)
	if err != nil {
		return nil, fmt.Errorf("cgroup layout: %s: %w", cgroupPath, err)
	}
	mi, err := os.ReadFile(mountinfoPath)
	if err != nil {
		return nil, fmt.Errorf("cgroup layout: %w: %w", errdefs.ErrUnavailable, err)
	}
	mounts, err := parseCgroupMounts(mi)
	if err != nil {
		return nil, fmt.Errorf("cgroup layout: %s: %w", mountinfoPath, err)
	}
	l := buildLayout(lines, mounts)
	if l.Unified != nil {
		// Only the unified root can say which controllers v1 left free.
		if b, err := os.ReadFile(path.Join(l.Unified.Mountpoint, "cgroup.controllers")); err == nil && len(bytes.TrimSpace(b)) > 0 {
			l.Unified.Controllers = strings.Fields(string(b))
		}
	}
	l.HugePageSizes = hugePageSizes("/sys/kernel/mm/hugepages")
	if l.Mode == 0 {
		return nil, fmt.Errorf("cgroup layout: no cgroup filesystem is mounted: %w", errdefs.ErrNotImplemented)
	}
	return l, nil
}

func parseProcCgroup(b []byte) ([]cgroupLine, error) {
	var out []cgroupLine
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, p, ok2 := strings.Cut(rest, ":")
		n, err := strconv.Atoi(id)
		if !ok1 || !ok2 || err != nil || !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("malformed line %q: %w", line, errdefs.ErrInvalidParameter)
		}
		cl := cgroupLine{id: n, path: p}
		if ctrls != "" {
			cl.controllers = strings.Split(ctrls, ",")
		}
		out = append(out, cl)
	}
	return out, nil
}

// parseCgroupMounts returns the cgroup mounts of a mountinfo file, in order.
// Lines are split by hand because only a few of possibly thousands of
// mounts matter and the fields before " - " have a variable length.
func parseCgroupMounts(b []byte) ([]cgroupMount, error) {
	var out []cgroupMount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, " - cgroup") {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fields := strings.Fields(pre)
		tail := strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			return nil, fmt.Errorf("malformed mountinfo line %q: %w", line, errdefs.ErrInvalidParameter)
		}
		var m cgroupMount
		switch tail[0] {
		case "cgroup":
		case "cgroup2":
			m.v2 = true
		default:
			continue
		}
		m.root = unescapeMountinfo(fields[3])
		m.mountpoint = unescapeMountinfo(fields[4])
		m.options = strings.Split(tail[2], ",")
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidParameter, err)
	}
	return out, nil
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func buildLayout(lines []cgroupLine, mounts []cgroupMount) *Layout {
	l := &Layout{}
	hasV1Controller := false
	for _, cl := range lines {
		if len(cl.controllers) == 0 {
			m := pickMount(mounts, cl, func(m *cgroupMount) bool { return m.v2 })
			if m != nil {
				l.Unified = &UnifiedHierarchy{Mountpoint: m.mountpoint, Root: m.root, Path: cl.path}
			}
			continue
		}
		m := pickMount(mounts, cl, func(m *cgroupMount) bool {
			if m.v2 {
				return false
			}
			for _, c := range cl.controllers {
				if !slices.Contains(m.options, c) {
					return false
				}
			}
			return true
		})
		if m == nil {
			continue // bound to a hierarchy nobody mounted in our namespace
		}
		l.V1 = append(l.V1, Hierarchy{
			ID:          cl.id,
			Controllers: cl.controllers,
			Mountpoint:  m.mountpoint,
			Root:        m.root,
			Path:        cl.path,
		})
		for _, c := range cl.controllers {
			if !strings.HasPrefix(c, "name=") {
				hasV1Controller = true
			}
		}
	}
	switch {
	case hasV1Controller && l.Unified != nil:
		l.Mode = Hybrid
	case hasV1Controller || len(l.V1) > 0 && l.Unified == nil:
		l.Mode = Legacy
	case l.Unified != nil:
		l.Mode = Unified
	}
	return l
}

// pickMount chooses among the mounts of one hierarchy (a hierarchy can be
// bind-mounted many times): first one whose root contains our own cgroup,
// then one under /sys/fs/cgroup, then the earliest.
func pickMount(mounts []cgroupMount, cl cgroupLine, match func(*cgroupMount) bool) *cgroupMount {
	var best *cgroupMount
	bestScore := -1
	for i := range mounts {
		m := &mounts[i]
		if !match(m) {
			continue
		}
		score := 0
		if isUnder(cl.path, m.root) {
			score += 2
		}
		if isUnder(m.mountpoint, "/sys/fs/cgroup") {
			score++
		}
		if score > bestScore {
			best, bestScore = m, score
		}
	}
	return best
}

// ownDir maps a cgroup path from /proc/self/cgroup to a directory. When
// the mount shows a part of the hierarchy that does not contain the path
// (a bind mount made elsewhere), the mountpoint is the best guess.
func ownDir(mountpoint, root, p string) string {
	if root == "/" {
		return path.Join(mountpoint, p)
	}
	if isUnder(p, root) {
		return path.Join(mountpoint, strings.TrimPrefix(p, root))
	}
	return mountpoint
}

// isUnder reports whether p is dir or below it (lexically).
func isUnder(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}
