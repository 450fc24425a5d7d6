package archive

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// WriteTreeAt writes, as one uncompressed tar stream, the file name in the
// directory open as dir ("." for dir itself) and, when it is a directory,
// everything under it: `docker cp` out of a container and the
// archive endpoint's GET.
//
// The first entry is named as; the entries under it as + "/" + their path
// below it, or as + their path when as ends in "/" (a root directory
// archived as "/" gives "/", "/bin/", ...). A symlink is written as a
// link and never followed, name included: the caller resolves what it
// means to archive first. Every file is opened relative to the fd of its
// directory with O_NOFOLLOW, so a directory swapped for a symlink while the
// tree is read is archived as that symlink, never read through. Hard links
// inside the tree become link entries, xattrs are kept (overlayfs' private
// ones dropped), sockets are left out as docker leaves them out.
//
// Directories on kernel API filesystems (proc, sysfs, cgroup, devpts,
// mqueue, ...) are written as empty directories: they are views of the
// kernel, not files, and a container's root seen through /proc/PID/root
// has them mounted where docker's view of the same root has empty
// mountpoints.
func WriteTreeAt(ctx context.Context, w io.Writer, dir *os.File, name, as string) error {
	if as == "" || name == "" {
		return fmt.Errorf("archive: WriteTreeAt of %q as %q: empty name: %w", name, as, errdefs.ErrInvalidParameter)
	}
	tw := newTarWriter(w)
	t := &treeWriter{ctx: ctx, tw: tw, as: as, d: &differ{ctx: ctx}}
	ev := &event{kind: ChangeAdd, path: t.rename("."), dirfd: int(dir.Fd()), dir: dir.Name(), name: name}
	if err := t.d.fill(ev); err != nil {
		return err
	}
	if err := t.emit(ev); err != nil {
		return err
	}
	if ev.st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := t.descend(ev, "."); err != nil {
			return err
		}
	}
	return tw.tw.Close()
}

type treeWriter struct {
	ctx context.Context
	tw  *tarWriter
	d   *differ // for fill only
	as  string
}

// rename gives the entry name of rel, a path below the archived file.
func (t *treeWriter) rename(rel string) string {
	if rel == "." {
		if t.as == "/" {
			// tarWriter adds the "/" of a directory.
			return ""
		}
		return t.as
	}
	if t.as[len(t.as)-1] == '/' {
		return t.as + rel
	}
	return t.as + "/" + rel
}

func (t *treeWriter) emit(ev *event) error {
	if ev.st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		return nil
	}
	return t.tw.event(ev)
}

// descend writes what the directory of ev (rel below the archived file)
// holds.
func (t *treeWriter) descend(ev *event, rel string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	disp := filepath.Join(ev.dir, ev.name)
	fd, err := openat(ev.dirfd, ev.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, disp)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return pathError("fstatfs", disp, err)
	}
	if KernelFilesystem(sfs.Type) {
		return nil
	}
	h := dirHandle{fd: fd, disp: disp}
	names, err := h.names()
	if err != nil {
		return err
	}
	for _, n := range names {
		crel := path.Join(rel, n)
		cev := &event{kind: ChangeAdd, path: t.rename(crel), dirfd: fd, dir: disp, name: n}
		if err := t.d.fill(cev); err != nil {
			if os.IsNotExist(err) {
				continue // removed while we read the directory
			}
			return err
		}
		if err := t.emit(cev); err != nil {
			return err
		}
		if cev.st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := t.descend(cev, crel); err != nil {
				return err
			}
		}
	}
	return nil
}

// KernelFilesystem tells, from statfs's f_type, the filesystems whose
// files are the kernel's state, not data (proc, sysfs, cgroup, devpts,
// mqueue, debugfs, ...): archiving them means reading /proc/kcore or
// sysfs attributes, and a container's root seen through /proc/PID/root
// has them mounted where its image has empty directories.
func KernelFilesystem(typ int64) bool {
	switch uint32(typ) {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC,
		unix.DEVPTS_SUPER_MAGIC, unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC,
		unix.SECURITYFS_MAGIC, unix.PSTOREFS_MAGIC, unix.BPF_FS_MAGIC, unix.SELINUX_MAGIC,
		unix.EFIVARFS_MAGIC, unix.BINFMTFS_MAGIC, unix.NSFS_MAGIC, unix.SMACK_MAGIC,
		0x62656570, // configfs
		0x65735543, // fusectl
		0x19800202: // mqueue
		return true
	}
	return false
}
