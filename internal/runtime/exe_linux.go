package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// The init never runs from the writable binary on disk. A container
// process that reaches the init's /proc/<pid>/exe (through a
// "#!/proc/self/exe" entrypoint, or by watching an exec'd process) could
// otherwise open the runtime binary and overwrite it (CVE-2019-5736).
//
// First choice: the binary as seen through a private, detached, read-only
// overlayfs mount (no upper layer). Writing to it fails with EROFS whoever
// asks, it costs one mount instead of a copy, and the mount is attached
// nowhere: it lives only as long as the processes using it. Where overlayfs
// cannot be mounted, a sealed memfd copy (cannot be written, grown or
// shrunk by anyone) does the same job at the price of copying the binary.

var (
	selfOnce sync.Once
	selfFile *os.File
	selfErr  error
)

// protectedSelf returns an executable handle on a write-protected view of
// the running binary. spareDir is an existing directory that does not
// overlap the binary's (overlayfs needs two lower layers).
func protectedSelf(spareDir string) (*os.File, error) {
	selfOnce.Do(func() {
		selfFile, selfErr = overlaySelf(spareDir)
		if selfErr != nil {
			selfFile, selfErr = cloneSelf()
		}
	})
	return selfFile, selfErr
}

// overlaySelf opens the running binary through a detached read-only
// overlay of its directory.
func overlaySelf(spareDir string) (*os.File, error) {
	exe := initBinary
	if exe == "/proc/self/exe" {
		var err error
		if exe, err = os.Readlink(exe); err != nil {
			return nil, err
		}
	}
	var want unix.Stat_t
	if err := unix.Stat(initBinary, &want); err != nil {
		return nil, err
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "lowerdir", filepath.Dir(exe)+":"+spareDir); err != nil {
		return nil, fmt.Errorf("overlay lowerdir: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("overlay create: %w", err)
	}
	mnt, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(exe), unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open binary in overlay: %w", err)
	}
	// The path may have been replaced since we started (an upgrade):
	// only run what is running now.
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil || got.Size != want.Size || got.Mtim != want.Mtim {
		unix.Close(fd)
		return nil, errors.New("binary changed on disk")
	}
	return os.NewFile(uintptr(fd), exe), nil
}

func cloneSelf() (*os.File, error) {
	src, err := os.Open(initBinary)
	if err != nil {
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	// MFD_EXEC is needed where vm.memfd_noexec defaults memfds to
	// non-executable; older kernels do not know the flag.
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate("berth-runtime", flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("berth-runtime", flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	dst := os.NewFile(uintptr(fd), "berth-runtime-memfd")
	if err := copyAll(dst, src, st.Size()); err != nil {
		dst.Close()
		return nil, fmt.Errorf("copy own executable to memfd: %w", err)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		dst.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return dst, nil
}

// copyAll copies with sendfile, in the kernel, falling back to io.Copy.
func copyAll(dst, src *os.File, size int64) error {
	var off int64
	for off < size {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(size-off))
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if off == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) {
				_, err = io.Copy(dst, src)
				return err
			}
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
	}
	return nil
}
