package cptar

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The docker CLI's errors for copies its rules forbid.
var (
	ErrCannotCopyDir = errors.New("cannot copy directory")
	ErrDirNotExists  = errors.New("no such directory")
	ErrNotDirectory  = errors.New("not a directory")
)

// Info describes one end of a copy.
type Info struct {
	Path   string
	Exists bool
	IsDir  bool
	// RebaseName, when set, is the name the archive's first element must
	// take (a symlink followed at the end of the path, or a trailing "/"
	// on a symlink's name).
	RebaseName string
}

// SplitDirEntry splits p into its directory and last element, keeping
// "." for a path that names a directory's contents ("dir/." -> "dir",
// ".").
func SplitDirEntry(p string) (dir, base string) {
	c := filepath.Clean(p)
	if namesContents(p) {
		c += string(filepath.Separator) + "."
	}
	return filepath.Dir(c), filepath.Base(c)
}

// namesContents reports whether p ends in "/." (or is "."): the contents
// of a directory rather than the directory.
func namesContents(p string) bool {
	return filepath.Base(p) == "." && (p == "." || strings.HasSuffix(p, string(filepath.Separator)+"."))
}

// assertsDir reports whether p ends in a separator or "/.": it must name
// a directory.
func assertsDir(p string) bool {
	return strings.HasSuffix(p, string(filepath.Separator)) || namesContents(p)
}

// KeepTrailing puts back onto cleaned what original ended with ("/" or
// "/."), which filepath.Clean and filepath.Abs drop: it changes what a
// copy means.
func KeepTrailing(cleaned, original string) string {
	if namesContents(original) && !namesContents(cleaned) {
		if !strings.HasSuffix(cleaned, string(filepath.Separator)) {
			cleaned += string(filepath.Separator)
		}
		cleaned += "."
	}
	if strings.HasSuffix(original, string(filepath.Separator)) && !strings.HasSuffix(cleaned, string(filepath.Separator)) {
		cleaned += string(filepath.Separator)
	}
	return cleaned
}

// Rebase returns resolved with p's trailing "/" or "/." and, when the
// last element changed (a symlink followed), the name the copy must keep.
func Rebase(p, resolved string) (string, string) {
	resolved = KeepTrailing(resolved, p)
	var name string
	if filepath.Base(p) != filepath.Base(resolved) {
		name = filepath.Base(p)
	}
	return resolved, name
}

// SourceInfo describes a local copy source. Symlinks in its directories
// are resolved; the last element is followed only with followLink.
func SourceInfo(p string, followLink bool) (Info, error) {
	var resolved, rebase string
	if followLink {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return Info{}, err
		}
		resolved, rebase = Rebase(p, r)
	} else {
		dir, base := filepath.Split(p)
		rdir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return Info{}, err
		}
		resolved = rdir + string(filepath.Separator) + base
		if strings.HasSuffix(p, string(filepath.Separator)) && filepath.Base(p) != filepath.Base(resolved) {
			rebase = filepath.Base(p)
		}
	}
	st, err := os.Lstat(resolved)
	if err != nil {
		return Info{}, err
	}
	return Info{Path: resolved, Exists: true, IsDir: st.IsDir(), RebaseName: rebase}, nil
}

// maxDestinationLinks is how many symlinks DestinationInfo follows at the
// end of the path, as the docker CLI.
const maxDestinationLinks = 10

// DestinationInfo describes a local copy destination: symlinks at its end
// are followed (the copy writes where they lead), and a missing path is
// fine if its parent is a directory.
func DestinationInfo(p string) (Info, error) {
	original := p
	st, err := os.Lstat(p)
	for n := 0; err == nil && st.Mode()&fs.ModeSymlink != 0; n++ {
		if n >= maxDestinationLinks {
			return Info{}, errors.New("too many symlinks in " + original)
		}
		target, rerr := os.Readlink(p)
		if rerr != nil {
			return Info{}, rerr
		}
		if !filepath.IsAbs(target) {
			dir, _ := SplitDirEntry(p)
			target = filepath.Join(dir, target)
		}
		p = target
		st, err = os.Lstat(p)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return Info{}, err
		}
		dir, _ := SplitDirEntry(p)
		pst, err := os.Stat(dir)
		if err != nil {
			return Info{}, err
		}
		if !pst.IsDir() {
			return Info{}, ErrNotDirectory
		}
		return Info{Path: p}, nil
	}
	return Info{Path: p, Exists: true, IsDir: st.IsDir()}, nil
}

// Prepare says where to extract an archive of src so that it lands as
// dst: the directory, and the name the archive's first element must
// take there ("." keeps a directory's contents as they are).
func Prepare(src, dst Info) (dir, as string, err error) {
	dstDir, dstBase := SplitDirEntry(dst.Path)
	_, srcBase := SplitDirEntry(src.Path)
	if src.RebaseName != "" {
		srcBase = src.RebaseName
	}
	switch {
	case dst.Exists && dst.IsDir:
		return dst.Path, srcBase, nil
	case dst.Exists && src.IsDir:
		return "", "", ErrCannotCopyDir
	case dst.Exists, src.IsDir:
		return dstDir, dstBase, nil
	case assertsDir(dst.Path):
		return "", "", ErrDirNotExists
	}
	return dstDir, dstBase, nil
}
