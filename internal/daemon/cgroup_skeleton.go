package daemon

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/daemon/config"
	"github.com/berth-project/berth/internal/mount"
	"golang.org/x/sys/unix"
)

// cgroupSkeletonAnnotation is Berth's runtime's
// runtime.CgroupSkeletonAnnotation: a directory where the runtime keeps
// one read-only /sys/fs/cgroup tmpfs that every container binds, rather
// than a tmpfs per container (a superblock less each). The daemon owns
// the directory and unmounts what is in it when it stops.
const cgroupSkeletonAnnotation = "org.berth.cgroupfs-skeletons"

func (d *Daemon) cgroupSkeletonsDir() string { return filepath.Join(d.execRoot, "cgroupfs") }

// shareCgroupSkeleton lets Berth's runtime use the daemon's skeletons for
// sp. Other runtimes ignore the annotation, but are not given it.
func (d *Daemon) shareCgroupSkeleton(sp *specs.Spec, runtimeName string) {
	if runtimeName != config.RuntimeBerth {
		return
	}
	if sp.Annotations == nil {
		sp.Annotations = map[string]string{}
	}
	sp.Annotations[cgroupSkeletonAnnotation] = d.cgroupSkeletonsDir()
}

// removeCgroupSkeletons unmounts and removes the skeletons. Running
// containers keep theirs: a bind holds the filesystem, not the host's
// mount of it.
func (d *Daemon) removeCgroupSkeletons() {
	dir := d.cgroupSkeletonsDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			d.log.Warn("remove the cgroup skeletons", "dir", dir, "err", err)
		}
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			if err := mount.UnmountAll(p, unix.MNT_DETACH); err != nil {
				d.log.Warn("unmount a cgroup skeleton", "path", p, "err", err)
			}
		}
		if err := os.Remove(p); err != nil {
			d.log.Warn("remove a cgroup skeleton", "path", p, "err", err)
		}
	}
	_ = os.Remove(dir)
}
