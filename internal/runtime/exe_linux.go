package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The init runs from a sealed memfd copy of this binary, never from the
// binary on disk. A container process that reaches the init's
// /proc/<pid>/exe (through a "#!/proc/self/exe" entrypoint, or by
// watching an exec'd process) could otherwise open the runtime binary
// and overwrite it (CVE-2019-5736). A sealed memfd cannot be written, grown
// or shrunk, by anyone.

var (
	selfOnce sync.Once
	selfFile *os.File
	selfErr  error
)

// sealedSelf returns a sealed, executable memfd copy of the running binary.
func sealedSelf() (*os.File, error) {
	selfOnce.Do(func() { selfFile, selfErr = cloneSelf() })
	return selfFile, selfErr
}

func cloneSelf() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
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
