package cptar

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Tar archives the local source src as one uncompressed tar stream whose
// first element is named as (its children as + "/" + their path; "." for
// as keeps them bare). Symlinks are archived as links, never followed;
// hard links within the tree become link entries; sockets are left out,
// as docker leaves them out. The stream is made while it is read.
func Tar(src Info, as string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeTar(pw, src.Path, as))
	}()
	return pr
}

type inode struct{ dev, ino uint64 }

func writeTar(w io.Writer, root, as string) error {
	tw := tar.NewWriter(w)
	links := map[inode]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := path.Join(as, filepath.ToSlash(rel))
		if as == "." && rel == "." {
			name = "."
		}
		return addFile(tw, p, name, links)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// addFile writes one entry for the file at p.
func addFile(tw *tar.Writer, p, name string, links map[inode]string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil
	}
	var target string
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() && name != "." {
		hdr.Name += "/"
	} else if fi.IsDir() {
		hdr.Name = "./"
	}
	// As docker's archives: whole seconds and no access or change time,
	// so a plain ustar header does unless a name or size needs PAX.
	hdr.Format = tar.FormatPAX
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Uname, hdr.Gname = "", ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[key] = name
			}
		}
	}
	if capability := fileCapability(p); capability != nil {
		hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(capability)}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archiving %s: %w", p, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("archiving %s: %w", p, err)
	}
	return nil
}

// fileCapability reads a file's capabilities, which docker copies along
// (the one xattr its archives keep).
func fileCapability(p string) []byte {
	buf := make([]byte, 128)
	// Missing (ENODATA), unsupported or unreadable: none to copy.
	n, err := unix.Lgetxattr(p, "security.capability", buf)
	if err != nil || n <= 0 {
		return nil
	}
	return buf[:n]
}
