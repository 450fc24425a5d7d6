package cgroups

import (
	"fmt"
	"path"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// cgroupPath is a validated OCI cgroupsPath.
type cgroupPath struct {
	// abs paths start at each hierarchy's root (the mountpoint); the
	// others start at the calling process's own cgroup, as runc does (on
	// a pure v2 host at its parent, see newV2).
	abs bool
	// rel is clean, relative and never empty or ".".
	rel string
}

// parseCgroupsPath validates an OCI cgroupsPath; an empty one means the
// relative path name (the container id).
func parseCgroupsPath(p, name string) (cgroupPath, error) {
	if p == "" {
		if name == "" {
			return cgroupPath{}, fmt.Errorf("cgroup path: neither a cgroupsPath nor a container name: %w", errdefs.ErrInvalidParameter)
		}
		p = name
	}
	if strings.ContainsRune(p, 0) {
		return cgroupPath{}, fmt.Errorf("cgroup path %q: contains a NUL byte: %w", p, errdefs.ErrInvalidParameter)
	}
	if !strings.Contains(p, "/") && strings.Count(p, ":") == 2 {
		return cgroupPath{}, fmt.Errorf("cgroup path %q: systemd cgroup paths (slice:prefix:name) need the systemd cgroup driver, which Berth does not have: %w", p, errdefs.ErrNotImplemented)
	}
	cp := cgroupPath{abs: strings.HasPrefix(p, "/")}
	// Walk the elements ourselves: path.Clean would turn "/../x" into "/x"
	// and hide that the caller tried to leave its anchor.
	var kept []string
	for e := range strings.SplitSeq(p, "/") {
		switch e {
		case "", ".":
		case "..":
			if len(kept) == 0 {
				return cgroupPath{}, fmt.Errorf("cgroup path %q: escapes %s: %w", p, anchorName(cp.abs), errdefs.ErrInvalidParameter)
			}
			kept = kept[:len(kept)-1]
		default:
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return cgroupPath{}, fmt.Errorf("cgroup path %q: names %s itself, not a cgroup of its own: %w", p, anchorName(cp.abs), errdefs.ErrInvalidParameter)
	}
	cp.rel = path.Join(kept...)
	return cp, nil
}

func anchorName(abs bool) string {
	if abs {
		return "the hierarchy root"
	}
	return "the caller's own cgroup"
}

// dir resolves the path in one hierarchy.
func (c cgroupPath) dir(mountpoint, ownDir string) string {
	if c.abs {
		return path.Join(mountpoint, c.rel)
	}
	return path.Join(ownDir, c.rel)
}

// checkLoadedDir rejects a saved path that is not strictly below the
// hierarchy's mountpoint: a corrupted state file must not make Destroy
// remove someone else's cgroup.
func checkLoadedDir(key, dir, mountpoint string) error {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == mountpoint || !isUnder(dir, mountpoint) {
		return fmt.Errorf("cgroup path %q for %q: not a cgroup below %s: %w", dir, key, mountpoint, errdefs.ErrInvalidParameter)
	}
	return nil
}
