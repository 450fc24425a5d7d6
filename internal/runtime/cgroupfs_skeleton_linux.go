package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"
)

// CgroupSkeletonAnnotation names a directory where the runtime may keep
// the skeleton of /sys/fs/cgroup that containers share: on a cgroup v1
// host, the tmpfs that holds a mount point per hierarchy and the symlinks
// of co-mounted ones ("cpu" -> "cpu,cpuacct").
//
// Each container had a tmpfs of its own for it: a superblock, a dozen
// inodes and their dentries, for a read-only directory that is the same
// in every container. And every superblock is a shrinker that each memory
// cgroup on the host keeps a slot for, so one superblock more per
// container costs, at a thousand containers, some 16 KiB per container
// besides the superblock. With the annotation, the runtime makes one
// read-only tmpfs per set of hierarchies in that directory, and each
// container binds it and mounts its hierarchies on the bind's directories
// (mounts on a directory of a bind are the bind's own: no container sees
// another's).
//
// Whoever sets the annotation owns the directory: the runtime makes
// skeletons there and never removes them (berthd unmounts them when it
// stops; containers that bound one keep it, as a bind holds the
// filesystem, not the host's mount).
// Without it, or for a writable /sys/fs/cgroup (privileged containers),
// each container gets its own tmpfs as before.
const CgroupSkeletonAnnotation = "org.berth.cgroupfs-skeletons"

// cgroupSkeletonPath is where the skeleton for cgs lives under base: its
// name is a digest of the directories and symlinks it holds.
func cgroupSkeletonPath(base string, cgs []cgroupMount) string {
	h := sha256.New()
	for _, cg := range cgs {
		fmt.Fprintf(h, "%q", cg.Dir)
		for _, l := range cg.Symlinks {
			fmt.Fprintf(h, " %q", l)
		}
		h.Write([]byte{'\n'})
	}
	return filepath.Join(base, hex.EncodeToString(h.Sum(nil))[:16])
}

// wantsCgroupSkeleton says whether the /sys/fs/cgroup of cgs may be the
// shared skeleton: cgroup v1 hierarchies (a pure v2 host mounts cgroup2
// there, no tmpfs) seen read-only.
func wantsCgroupSkeleton(cgs []cgroupMount, readOnly bool) bool {
	return readOnly && !(len(cgs) == 1 && cgs[0].V2 && cgs[0].Dir == "")
}

// cgroupSkeletonReady: a skeleton is complete once it is read-only; it
// is made writable and remounted read-only when filled.
func cgroupSkeletonReady(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.TMPFS_MAGIC && st.Flags&unix.ST_RDONLY != 0
}

// prepareCgroupSkeleton makes the skeleton spec's container will look
// for, when the spec asks for skeletons and mounts /sys/fs/cgroup. A
// failure only costs the container a tmpfs of its own.
func prepareCgroupSkeleton(log *slog.Logger, spec *specs.Spec, cgs []cgroupMount) {
	base := spec.Annotations[CgroupSkeletonAnnotation]
	if base == "" || !wantsCgroupSkeleton(cgs, true) || !slices.ContainsFunc(spec.Mounts, func(m specs.Mount) bool { return m.Type == "cgroup" }) {
		return
	}
	if _, err := ensureCgroupSkeleton(base, cgs); err != nil {
		log.Warn("no shared /sys/fs/cgroup skeleton", "err", err)
	}
}

// ensureCgroupSkeleton makes the skeleton for cgs under base unless it
// exists, and returns its path. Shims creating containers at once take
// turns on a lock file; a skeleton left half made (a crash) is replaced.
func ensureCgroupSkeleton(base string, cgs []cgroupMount) (string, error) {
	path := cgroupSkeletonPath(base, cgs)
	if cgroupSkeletonReady(path) {
		return path, nil
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", &os.PathError{Op: "flock", Path: lock.Name(), Err: err}
	}
	if cgroupSkeletonReady(path) {
		return path, nil
	}
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	for unix.Unmount(path, unix.MNT_DETACH) == nil {
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("tmpfs", path, "tmpfs", flags, "mode=755"); err != nil {
		return "", &os.PathError{Op: "mount tmpfs", Path: path, Err: err}
	}
	// Private: the hierarchies containers mount on their binds of it must
	// not come back here.
	err = unix.Mount("", path, "", unix.MS_PRIVATE, "")
	for _, cg := range cgs {
		if err != nil {
			break
		}
		err = os.Mkdir(filepath.Join(path, cg.Dir), 0o755)
		for _, l := range cg.Symlinks {
			if err == nil {
				err = os.Symlink(cg.Dir, filepath.Join(path, l))
			}
		}
	}
	if err == nil {
		err = unix.Mount("", path, "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, "mode=755")
	}
	if err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
		return "", fmt.Errorf("cgroup skeleton %s: %w", path, err)
	}
	return path, nil
}
