package volume

import (
	"bytes"
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// copyXattrs copies the extended attributes of name in srcfd to name in
// dstfd (the directories themselves for ""). Names are reached through
// /proc/self/fd/DIRFD/NAME with the l* calls: the directory by its fd, the
// entry without following it, so a device or fifo is never opened.
// Attributes the destination cannot hold (no xattr support, user.* on a
// symlink) are skipped, as docker's copy skips them; overlayfs's own are
// never copied.
func copyXattrs(srcfd int, srcName string, dstfd int, dstName string, isLink bool) error {
	src := xattrTarget{fd: srcfd, name: srcName}
	dst := xattrTarget{fd: dstfd, name: dstName}
	names, err := src.list()
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	for _, attr := range names {
		if strings.HasPrefix(attr, "trusted.overlay.") {
			continue
		}
		val, err := src.get(attr)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since listed
		}
		if err != nil {
			return err
		}
		err = dst.set(attr, val)
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOTSUP):
		case isLink && errors.Is(err, unix.EPERM):
		default:
			return err
		}
	}
	return nil
}

type xattrTarget struct {
	fd   int
	name string
}

func (t xattrTarget) path() string { return procFd(t.fd) + "/" + t.name }

func (t xattrTarget) list() ([]string, error) {
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		var n int
		err := retry(func() (err error) {
			if t.name == "" {
				n, err = unix.Flistxattr(t.fd, buf)
			} else {
				n, err = unix.Llistxattr(t.path(), buf)
			}
			return err
		})
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		var out []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				out = append(out, string(b))
			}
		}
		return out, nil
	}
}

func (t xattrTarget) get(attr string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		var n int
		err := retry(func() (err error) {
			if t.name == "" {
				n, err = unix.Fgetxattr(t.fd, attr, buf)
			} else {
				n, err = unix.Lgetxattr(t.path(), attr, buf)
			}
			return err
		})
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

func (t xattrTarget) set(attr string, val []byte) error {
	return retry(func() error {
		if t.name == "" {
			return unix.Fsetxattr(t.fd, attr, val, 0)
		}
		return unix.Lsetxattr(t.path(), attr, val, 0)
	})
}
