package cptar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Extract unpacks the tar stream r into the local directory dir, naming
// its first element as instead of from (from "." means every entry: an
// archive of a directory's contents). Every entry stays inside dir: names
// and links are resolved through an os.Root, so neither ".." nor a
// symlink (one already there or one the archive makes) leads out of it.
//
// As the docker CLI extracts a copy: owners are not changed (the files
// belong to the user running the command), a directory is never replaced
// by a file or the reverse, and any other existing file is replaced.
func Extract(r io.Reader, dir, from, as string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := extractor{root: root, from: from, as: as}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	// Directories' times last: writing into them changed them.
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

type extractor struct {
	root     *os.Root
	from, as string
	dirs     []dirTime
}

type dirTime struct {
	name  string
	mtime time.Time
}

// rename maps an archive name to its name under the extraction point.
func (x *extractor) rename(name string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(name, "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("invalid archive path %q: it leads out of the destination", name)
	}
	if x.from == "." {
		return path.Join(x.as, clean), nil
	}
	first, rest, _ := strings.Cut(clean, "/")
	if first != x.from {
		return clean, nil
	}
	return path.Join(x.as, rest), nil
}

func (x *extractor) entry(hdr *tar.Header, content io.Reader) error {
	name, err := x.rename(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the destination itself: left as it is
	}
	if parent := path.Dir(name); parent != "." {
		if err := x.root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	mode := fs.FileMode(hdr.Mode).Perm()
	if hdr.Mode&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	isDir := hdr.Typeflag == tar.TypeDir
	if fi, err := x.root.Lstat(name); err == nil {
		switch {
		case fi.IsDir() && isDir:
			// Merged: only its metadata is applied.
		case fi.IsDir():
			return fmt.Errorf("cannot overwrite directory %q with non-directory %q", name, hdr.Name)
		case isDir:
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q", name, hdr.Name)
		default:
			if err := x.root.Remove(name); err != nil {
				return err
			}
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		x.dirs = append(x.dirs, dirTime{name, hdr.ModTime})
		return x.root.Chmod(name, mode)
	case tar.TypeReg:
		f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, content); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The target is stored as is; following it later is the user's
		// business, as with docker. Times of the link itself are left.
		return x.root.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		target, err := x.rename(hdr.Linkname)
		if err != nil {
			return err
		}
		if err := x.root.Link(target, name); err != nil {
			return err
		}
		return nil
	case tar.TypeFifo, tar.TypeChar, tar.TypeBlock:
		if err := x.mknod(name, hdr); err != nil {
			return err
		}
	default:
		return nil // other entries (PAX globals, ...) carry no file
	}
	if err := x.root.Chmod(name, mode); err != nil {
		return err
	}
	return x.root.Chtimes(name, hdr.ModTime, hdr.ModTime)
}

// mknod makes a fifo or device node relative to its directory's fd,
// opened through the root so it cannot be outside it.
func (x *extractor) mknod(name string, hdr *tar.Header) error {
	dir, err := x.root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(int(dir.Fd()), path.Base(name), mode, int(dev)); err != nil {
		return &fs.PathError{Op: "mknod", Path: name, Err: err}
	}
	return nil
}
