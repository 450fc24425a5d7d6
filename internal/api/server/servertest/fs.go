package servertest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

// A fake container's filesystem is a map of clean absolute paths to
// entries, seeded with a tiny tree, and the changes made to it: enough
// for cp, diff, export and commit through the real server and client.

type fakeFile struct {
	mode  fs.FileMode
	data  []byte
	link  string // symlink target
	mtime time.Time
	uid   int
	gid   int
}

type fakeTree struct {
	files   map[string]*fakeFile
	changes map[string]container.ChangeType
}

// tree returns a container's filesystem, seeding it on first use. f.mu
// must be held.
func (f *Fake) tree(c *fakeContainer) *fakeTree {
	if f.trees == nil {
		f.trees = map[string]*fakeTree{}
	}
	if t, ok := f.trees[c.id]; ok {
		return t
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t := &fakeTree{files: map[string]*fakeFile{
		"/":           {mode: fs.ModeDir | 0o755, mtime: t0},
		"/bin":        {mode: fs.ModeDir | 0o755, mtime: t0},
		"/bin/sh":     {mode: 0o755, data: []byte("#!fake\n"), mtime: t0},
		"/etc":        {mode: fs.ModeDir | 0o755, mtime: t0},
		"/etc/passwd": {mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\n"), mtime: t0},
		"/etc/motd":   {mode: fs.ModeSymlink | 0o777, link: "/etc/passwd", mtime: t0},
		"/root":       {mode: fs.ModeDir | 0o700, mtime: t0},
		"/tmp":        {mode: fs.ModeDir | fs.ModeSticky | 0o777, mtime: t0},
	}, changes: map[string]container.ChangeType{}}
	f.trees[c.id] = t
	return t
}

// WriteFile creates or replaces a regular file in a container's
// filesystem (test setup), creating its parent directories; it counts as
// a change for diff.
func (f *Fake) WriteFile(name, p string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	f.tree(c).put(cleanPath(p), &fakeFile{mode: 0o644, data: data, mtime: time.Now().UTC()})
	return nil
}

// RemoveFile deletes a path (and what is below it) from a container's
// filesystem (test setup); it counts as a change for diff.
func (f *Fake) RemoveFile(name, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return err
	}
	t := f.tree(c)
	p = cleanPath(p)
	if _, ok := t.files[p]; !ok {
		return errdefs.Errorf(errdefs.ErrNotFound, "no such file: %s", p)
	}
	for q := range t.files {
		if q == p || strings.HasPrefix(q, p+"/") {
			delete(t.files, q)
			delete(t.changes, q)
		}
	}
	t.changes[p] = container.ChangeDelete
	t.touchParents(p)
	return nil
}

func cleanPath(p string) string { return path.Clean("/" + p) }

// put stores an entry and records the change (and its parents').
func (t *fakeTree) put(p string, e *fakeFile) {
	t.mkdirAll(path.Dir(p))
	if _, ok := t.files[p]; ok {
		if t.changes[p] != container.ChangeAdd {
			t.changes[p] = container.ChangeModify
		}
	} else {
		t.changes[p] = container.ChangeAdd
	}
	t.files[p] = e
	t.touchParents(p)
}

func (t *fakeTree) mkdirAll(p string) {
	if _, ok := t.files[p]; ok || p == "/" {
		return
	}
	t.mkdirAll(path.Dir(p))
	t.files[p] = &fakeFile{mode: fs.ModeDir | 0o755, mtime: time.Now().UTC()}
	t.changes[p] = container.ChangeAdd
}

// touchParents marks the existing parents of p modified, as an overlay
// diff reports them.
func (t *fakeTree) touchParents(p string) {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if _, ok := t.changes[d]; !ok {
			t.changes[d] = container.ChangeModify
		}
	}
}

// lookup finds a container and its entry at p; the trailing "/" or "/."
// of p asserts a directory.
func (f *Fake) lookup(name, p string) (*fakeContainer, *fakeTree, string, *fakeFile, error) {
	c, err := f.findContainer(name)
	if err != nil {
		return nil, nil, "", nil, err
	}
	t := f.tree(c)
	clean := cleanPath(p)
	e, ok := t.files[clean]
	if !ok {
		return nil, nil, "", nil, errdefs.Errorf(errdefs.ErrNotFound, "Could not find the file %s in container %s", p, name)
	}
	if (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")) && !e.mode.IsDir() {
		return nil, nil, "", nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "not a directory")
	}
	return c, t, clean, e, nil
}

func stat(p string, e *fakeFile) container.PathStat {
	st := container.PathStat{Name: path.Base(p), Size: int64(len(e.data)), Mode: e.mode, Mtime: e.mtime}
	if e.mode&fs.ModeSymlink != 0 {
		st.LinkTarget = e.link
	}
	return st
}

// ContainerStatPath stats a path (without following a final symlink).
func (f *Fake) ContainerStatPath(ctx context.Context, name, p string) (container.PathStat, error) {
	if err := f.enter("ContainerStatPath", name, p); err != nil {
		return container.PathStat{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, clean, e, err := f.lookup(name, p)
	if err != nil {
		return container.PathStat{}, err
	}
	return stat(clean, e), nil
}

// ContainerArchivePath tars a path, named for its base name ("." for a
// path ending in "/.").
func (f *Fake) ContainerArchivePath(ctx context.Context, name, p string) (io.ReadCloser, container.PathStat, error) {
	if err := f.enter("ContainerArchivePath", name, p); err != nil {
		return nil, container.PathStat{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, t, clean, e, err := f.lookup(name, p)
	if err != nil {
		return nil, container.PathStat{}, err
	}
	as := path.Base(clean)
	if strings.HasSuffix(p, "/.") {
		as = "."
	}
	var buf bytes.Buffer
	if err := t.writeTar(&buf, clean, as); err != nil {
		return nil, container.PathStat{}, err
	}
	f.publish(events.ContainerEventType, "archive-path", c.id, map[string]string{"name": c.name, "path": p})
	return io.NopCloser(&buf), stat(clean, e), nil
}

// writeTar writes the tree at root into w, names starting with as.
func (t *fakeTree) writeTar(w io.Writer, root, as string) error {
	tw := tar.NewWriter(w)
	var names []string
	for p := range t.files {
		if p == root || root == "/" || strings.HasPrefix(p, root+"/") {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	for _, p := range names {
		e := t.files[p]
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		name := path.Join(as, rel)
		if as == "" {
			name = rel
			if name == "" {
				continue
			}
		}
		hdr := &tar.Header{Name: name, Mode: int64(e.mode.Perm()), ModTime: e.mtime, Uid: e.uid, Gid: e.gid, Format: tar.FormatPAX}
		switch {
		case e.mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case e.mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// ContainerExtractToDir extracts a tar (plain or gzip) into the directory
// p, keeping the archive's owners (see CopyUIDGID). Names that climb out
// of p are refused; with NoOverwriteDirNonDir a directory is never
// replaced by a file or the reverse.
func (f *Fake) ContainerExtractToDir(ctx context.Context, name, p string, opts server.ExtractOptions, content io.Reader) error {
	if err := f.enter("ContainerExtractToDir", name, opts); err != nil {
		return err
	}
	// The container and the extraction point are checked first, as the
	// engine does; the body is read without the lock (it comes from the
	// network), and the lookup done again after.
	f.mu.Lock()
	_, _, _, _, err := f.lookup(name, p)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	br := bufio.NewReader(content)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "reading archive: %w", err)
		}
		r = zr
	}
	type entry struct {
		name string
		file *fakeFile
	}
	var entries []entry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "reading archive: %w", err)
		}
		rel := path.Clean(hdr.Name)
		if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(hdr.Name) && strings.HasPrefix(path.Clean(hdr.Name), "/..") {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid archive: %q is outside of the extraction point", hdr.Name)
		}
		e := &fakeFile{mode: fs.FileMode(hdr.Mode).Perm(), mtime: hdr.ModTime, uid: hdr.Uid, gid: hdr.Gid}
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.mode |= fs.ModeDir
		case tar.TypeSymlink:
			e.mode |= fs.ModeSymlink
			e.link = hdr.Linkname
		case tar.TypeReg:
			data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				return errdefs.Errorf(errdefs.ErrInvalidParameter, "reading archive: %w", err)
			}
			e.data = data
		default:
			continue // the fake keeps only files, directories and symlinks
		}
		entries = append(entries, entry{rel, e})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, t, dst, dir, err := f.lookup(name, p)
	if err != nil {
		return err
	}
	if !dir.mode.IsDir() {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "extraction point is not a directory")
	}
	// With CopyUIDGID a numeric user ("uid[:gid]") owns what is
	// extracted; the fake has no passwd to look names up in.
	if opts.CopyUIDGID && c.cfg != nil && c.cfg.User != "" {
		u, g, _ := strings.Cut(c.cfg.User, ":")
		uid, uerr := strconv.Atoi(u)
		gid, gerr := strconv.Atoi(g)
		if gerr != nil {
			gid = uid
		}
		if uerr == nil {
			for _, en := range entries {
				en.file.uid, en.file.gid = uid, gid
			}
		}
	}
	for _, en := range entries {
		target := path.Join(dst, en.name)
		if old, ok := t.files[target]; ok && opts.NoOverwriteDirNonDir && old.mode.IsDir() != en.file.mode.IsDir() {
			if old.mode.IsDir() {
				return errdefs.Errorf(errdefs.ErrConflict, "cannot overwrite directory %q with non-directory %q", target, en.name)
			}
			return errdefs.Errorf(errdefs.ErrConflict, "cannot overwrite non-directory %q with directory %q", target, en.name)
		}
		if target == dst {
			continue
		}
		t.put(target, en.file)
	}
	f.publish(events.ContainerEventType, "extract-to-dir", c.id, map[string]string{"name": c.name, "path": p})
	return nil
}

// ContainerChanges lists the changes made through the fake, by path.
func (f *Fake) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	if err := f.enter("ContainerChanges", name, nil); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return nil, err
	}
	t := f.tree(c)
	out := []container.FilesystemChange{}
	for p, k := range t.changes {
		out = append(out, container.FilesystemChange{Path: p, Kind: k})
	}
	slices.SortFunc(out, func(a, b container.FilesystemChange) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// ContainerExport writes the whole tree as a tar.
func (f *Fake) ContainerExport(ctx context.Context, name string, out io.Writer) error {
	if err := f.enter("ContainerExport", name, nil); err != nil {
		return err
	}
	f.mu.Lock()
	c, err := f.findContainer(name)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	var buf bytes.Buffer
	err = f.tree(c).writeTar(&buf, "/", "")
	f.publish(events.ContainerEventType, events.ActionExport, c.id, map[string]string{"name": c.name})
	f.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = io.Copy(out, &buf)
	return err
}

// ContainerCommit stores a new image, tagged Repo:Tag when Repo is set.
func (f *Fake) ContainerCommit(ctx context.Context, name string, opts server.CommitOptions) (string, error) {
	if err := f.enter("ContainerCommit", name, opts); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.findContainer(name)
	if err != nil {
		return "", err
	}
	var img *fakeImage
	if opts.Repo != "" {
		tag := opts.Tag
		if tag == "" {
			tag = "latest"
		}
		repo := opts.Repo
		if named, err := reference.ParseNormalizedNamed(repo); err == nil {
			repo = reference.FamiliarName(named)
		}
		img = f.addImage(repo+":"+tag, 1<<20)
	} else {
		img = &fakeImage{id: "sha256:" + newID(), size: 1 << 20, created: time.Now().UTC()}
		f.images[img.id] = img
	}
	f.publish(events.ContainerEventType, events.ActionCommit, c.id, map[string]string{"name": c.name, "comment": opts.Comment})
	return img.id, nil
}
