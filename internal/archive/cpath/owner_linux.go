package cpath

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// LookupOwner finds the owner dockerd gives the entries of a PUT with
// copyUIDGID in a container whose configured user is user ("name",
// "uid", "name:group", "uid:gid", ...): names are looked up in the
// container's own /etc/passwd and /etc/group under root (read inside root
// only). An unknown name is errdefs.ErrInvalidParameter with dockerd's
// text. A container without a user keeps the archive's owners: pass no
// Owner then.
func LookupOwner(ctx context.Context, root, user string) (Owner, error) {
	if err := ctx.Err(); err != nil {
		return Owner{}, err
	}
	r, err := openRoot(root)
	if err != nil {
		return Owner{}, err
	}
	defer r.close()
	return ownerOf(user, func() ([]byte, error) { return r.readFile("/etc/passwd") },
		func() ([]byte, error) { return r.readFile("/etc/group") })
}

// readFile reads a small file of the container.
func (r *root) readFile(abs string) ([]byte, error) {
	fd, err := r.open(abs, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), abs)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDBSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDBSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", abs, maxDBSize)
	}
	return b, nil
}
