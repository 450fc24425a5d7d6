package mount

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Propagation describes the mount a path is on: its mount point and
// whether it is a peer of a shared group or a slave of one.
type Propagation struct {
	MountPoint    string
	Shared, Slave bool
}

// PropagationOf finds the mount that path is on, in the calling thread's
// mount namespace. A shared or slave bind in a container only propagates
// if its source's mount does, which is why docker checks this first.
func PropagationOf(path string) (Propagation, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return Propagation{}, fmt.Errorf("propagation of %s: %w", path, err)
	}
	data, err := threadMountinfo()
	if err != nil {
		return Propagation{}, fmt.Errorf("propagation of %s: %w", path, err)
	}
	p, ok := propagationIn(data, filepath.Clean(resolved))
	if !ok {
		return Propagation{}, fmt.Errorf("propagation of %s: no mount found in mountinfo", path)
	}
	return p, nil
}

// propagationIn picks, from mountinfo data, the last-mounted of the
// longest mount points that hold path (an absolute, clean, resolved
// path): the one a lookup of path reaches.
func propagationIn(data []byte, path string) (Propagation, bool) {
	var best Propagation
	found := false
	_ = eachMountinfoLine(data, func(fields []string) {
		mp := unescapeMountinfo(fields[4])
		if !holds(mp, path) || (found && len(mp) < len(best.MountPoint)) {
			return
		}
		p := Propagation{MountPoint: mp}
		for _, opt := range fields[6:] {
			if opt == "-" {
				break
			}
			p.Shared = p.Shared || strings.HasPrefix(opt, "shared:")
			p.Slave = p.Slave || strings.HasPrefix(opt, "master:")
		}
		best, found = p, true
	})
	return best, found
}

// holds reports whether path is mount point mp or below it.
func holds(mp, path string) bool {
	if mp == "/" || mp == path {
		return true
	}
	return strings.HasPrefix(path, mp+"/")
}
