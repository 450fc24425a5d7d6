package imagetest

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Epoch is the modification time of every entry in the generated layers
// (except SpecialDir's) and the creation time in the config, so the same
// options always give the same digests.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Paths and properties of the image's tree, for tests that check what an
// unpacker made of it (CheckBusyboxTree checks them all).
const (
	// SpecialDir is made by layer 2 with mode 0750, owner
	// SpecialDirUID:SpecialDirGID and mtime SpecialDirMtime; it holds the
	// entries below.
	SpecialDir    = "srv/berth"
	SpecialDirUID = testenv.TestUID
	SpecialDirGID = testenv.TestSupplementaryGID

	// HardlinkPath is a hard link (in the same layer) to HardlinkTarget.
	HardlinkPath   = "srv/berth/hardlink"
	HardlinkTarget = "srv/berth/hardlink-target"
	// SymlinkPath is a relative symlink to "hardlink-target";
	// AbsSymlinkPath an absolute one to "/etc/motd".
	SymlinkPath    = "srv/berth/symlink"
	AbsSymlinkPath = "srv/berth/abs-symlink"
	// XattrPath carries the extended attribute XattrName=XattrValue, as a
	// PAX SCHILY.xattr record.
	XattrPath  = "srv/berth/xattr"
	XattrName  = "user.test"
	XattrValue = "berth"
	// SetuidPath has mode 04755, SetgidPath 02755.
	SetuidPath = "srv/berth/setuid"
	SetgidPath = "srv/berth/setgid"
	// FifoPath is a named pipe, mode 0600.
	FifoPath = "srv/berth/fifo"
	// OwnedPath is owned by testenv.TestUID:TestGID with mode 0640.
	OwnedPath = "srv/berth/owned"

	// WhiteoutPath is a file of layer 1 that layer 2 deletes with a
	// ".wh.deleteme" whiteout; WhiteoutDir a directory (with content) it
	// deletes the same way.
	WhiteoutPath = "etc/deleteme"
	WhiteoutDir  = "var/cache/gone"
	// OpaqueDir holds "a" and "b" in layer 1; layer 2 marks it opaque
	// (".wh..wh..opq") and adds "new", so only "new" remains.
	OpaqueDir = "opt/old"

	// PlatformPath holds the image's platform ("linux/arm64/v8") and a
	// newline: how a test tells the images of a multi-arch index apart.
	PlatformPath = "etc/berth-platform"
	// MotdPath is a plain file of layer 2.
	MotdPath    = "etc/motd"
	MotdContent = "Welcome to Berth's test image.\n"
	// DataDir holds the random layer's files.
	DataDir = "data"
)

// SpecialDirMtime is SpecialDir's modification time, distinct from Epoch
// so that a lost directory mtime shows.
var SpecialDirMtime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// ImageEnv is the config's Env; ImageCmd its Cmd; ImageWorkingDir its
// WorkingDir.
var (
	ImageEnv        = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	ImageCmd        = []string{"sh"}
	ImageWorkingDir = "/" + SpecialDir
	ImageExposed    = "8080/tcp"
)

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"berth:x:1000:1000:berth test user:/home/berth:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\n" +
		"berth:x:1000:\n" +
		"berthextra:x:1001:berth\n" +
		"nogroup:x:65534:\n"
)

// tarBuilder writes entries with the kit's defaults: root-owned, Epoch
// mtime, numeric owners only (an unpacker must not look names up).
type tarBuilder struct {
	tw  *tar.Writer
	err error
}

func (b *tarBuilder) write(h *tar.Header, body []byte) {
	if b.err != nil {
		return
	}
	if h.ModTime.IsZero() {
		h.ModTime = Epoch
	}
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(body))
	}
	if b.err = b.tw.WriteHeader(h); b.err != nil {
		return
	}
	if len(body) > 0 {
		_, b.err = b.tw.Write(body)
	}
}

func (b *tarBuilder) dir(name string, mode int64) {
	b.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
}

func (b *tarBuilder) file(name string, mode int64, content string) {
	b.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, []byte(content))
}

func (b *tarBuilder) symlink(name, target string) {
	b.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}, nil)
}

// busyboxHost is what the kit learns once about the host's busybox.
var busyboxHost struct {
	once    sync.Once
	arch    string
	binary  []byte
	applets []string
	err     error
}

func hostBusybox() (arch string, binary []byte, applets []string, err error) {
	b := &busyboxHost
	b.once.Do(func() {
		b.binary, b.err = os.ReadFile(testenv.BusyboxPath)
		if b.err != nil {
			b.err = fmt.Errorf("%w: apt-get install busybox-static", b.err)
			return
		}
		ef, err := elf.NewFile(bytes.NewReader(b.binary))
		if err != nil {
			b.err = fmt.Errorf("%s: %v: apt-get install busybox-static", testenv.BusyboxPath, err)
			return
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				b.err = fmt.Errorf("%s is dynamically linked: apt-get install busybox-static", testenv.BusyboxPath)
				return
			}
		}
		switch ef.Machine {
		case elf.EM_X86_64:
			b.arch = "amd64"
		case elf.EM_AARCH64:
			b.arch = "arm64"
		case elf.EM_386:
			b.arch = "386"
		case elf.EM_ARM:
			b.arch = "arm"
		default:
			b.err = fmt.Errorf("%s: unexpected machine %v", testenv.BusyboxPath, ef.Machine)
			return
		}
		out, err := exec.Command(testenv.BusyboxPath, "--list").Output()
		if err != nil {
			b.err = fmt.Errorf("%s --list: %v", testenv.BusyboxPath, err)
			return
		}
		for _, a := range strings.Fields(string(out)) {
			if a != "busybox" && !strings.Contains(a, "/") {
				b.applets = append(b.applets, a)
			}
		}
		if !slices.Contains(b.applets, "sh") {
			b.applets = append(b.applets, "sh")
		}
		slices.Sort(b.applets)
	})
	return b.arch, b.binary, b.applets, b.err
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// fillBase writes layer 1: the base directories, busybox with one symlink
// per applet, the user database, and what layer 2 deletes.
func fillBase(tw *tar.Writer, p v1.Platform, hostArch string, binary []byte, applets []string) error {
	b := &tarBuilder{tw: tw}
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"bin", 0o755}, {"etc", 0o755}, {"home", 0o755}, {"opt", 0o755},
		{OpaqueDir, 0o755}, {"root", 0o700}, {"tmp", 0o1777}, {"var", 0o755},
		{"var/cache", 0o755}, {WhiteoutDir, 0o755},
	} {
		b.dir(d.name, d.mode)
	}
	b.write(&tar.Header{Typeflag: tar.TypeDir, Name: "home/berth/", Mode: 0o755, Uid: testenv.TestUID, Gid: testenv.TestGID}, nil)
	if p.OS == "linux" && p.Architecture == hostArch {
		b.write(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, binary)
		for _, a := range applets {
			b.symlink("bin/"+a, "busybox")
		}
	} else {
		// Foreign platforms: the same tree, with a marker for the binary.
		b.file("bin/busybox", 0o755, "#!/bin/sh\n# berth imagetest marker: not a real "+platformString(p)+" busybox\n")
		b.symlink("bin/sh", "busybox")
	}
	b.file("etc/passwd", 0o644, passwd)
	b.file("etc/group", 0o644, group)
	b.file(WhiteoutPath, 0o644, "layer 2 deletes this file\n")
	b.file(OpaqueDir+"/a", 0o644, "a\n")
	b.file(OpaqueDir+"/b", 0o644, "b\n")
	b.file(WhiteoutDir+"/file", 0o644, "layer 2 deletes this directory\n")
	return b.err
}

// fillSpecial writes layer 2: every kind of entry an unpacker must handle.
func fillSpecial(tw *tar.Writer, p v1.Platform) error {
	b := &tarBuilder{tw: tw}
	b.dir("etc", 0o755)
	b.file("etc/.wh.deleteme", 0o644, "")
	b.file(MotdPath, 0o644, MotdContent)
	b.file(PlatformPath, 0o644, platformString(p)+"\n")
	// The opaque marker comes first: it hides only the lower layers' entries,
	// never "new" from this same layer.
	b.dir(OpaqueDir, 0o755)
	b.file(OpaqueDir+"/.wh..wh..opq", 0o644, "")
	b.file(OpaqueDir+"/new", 0o644, "new\n")
	b.dir("var/cache", 0o755)
	b.file("var/cache/.wh.gone", 0o644, "")
	b.dir("srv", 0o755)
	b.write(&tar.Header{Typeflag: tar.TypeDir, Name: SpecialDir + "/", Mode: 0o750,
		Uid: SpecialDirUID, Gid: SpecialDirGID, ModTime: SpecialDirMtime}, nil)
	b.write(&tar.Header{Typeflag: tar.TypeReg, Name: OwnedPath, Mode: 0o640,
		Uid: testenv.TestUID, Gid: testenv.TestGID}, []byte("owned by the test user\n"))
	b.file(HardlinkTarget, 0o644, "one inode, two names\n")
	b.write(&tar.Header{Typeflag: tar.TypeLink, Name: HardlinkPath, Linkname: HardlinkTarget}, nil)
	b.symlink(SymlinkPath, "hardlink-target")
	b.symlink(AbsSymlinkPath, "/"+MotdPath)
	b.write(&tar.Header{Typeflag: tar.TypeReg, Name: XattrPath, Mode: 0o644,
		PAXRecords: map[string]string{"SCHILY.xattr." + XattrName: XattrValue}}, []byte("has an xattr\n"))
	b.file(SetuidPath, 0o4755, "#!/bin/sh\nid -u\n")
	b.file(SetgidPath, 0o2755, "#!/bin/sh\nid -g\n")
	b.write(&tar.Header{Typeflag: tar.TypeFifo, Name: FifoPath, Mode: 0o600}, nil)
	return b.err
}

// dataFileSize bounds one file of the random layer, so that an unpacker's
// per-file costs show as well as its throughput.
const dataFileSize = 16 << 20

// fillData writes layer 3: size bytes of content in files of at most
// dataFileSize. Each 64 KiB block is pseudo-random or repeated text, in
// turn, so gzip halves it, about as it does real software.
func fillData(tw *tar.Writer, size int64, seed uint64) error {
	b := &tarBuilder{tw: tw}
	b.dir(DataDir, 0o755)
	if b.err != nil {
		return b.err
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rng := rand.NewChaCha8(key)
	const block = 64 << 10
	text := bytes.Repeat([]byte("berth imagetest data: the quick brown fox jumps over the lazy dog\n"), block/66+1)[:block]
	buf := make([]byte, block)
	n := 0
	for left := size; left > 0; n++ {
		fileSize := min(left, dataFileSize)
		left -= fileSize
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%s/blob-%04d", DataDir, n),
			Mode: 0o644, Size: fileSize, ModTime: Epoch}); err != nil {
			return err
		}
		for i := 0; fileSize > 0; i++ {
			chunk := buf[:min(fileSize, block)]
			if i%2 == 0 {
				_, _ = rng.Read(chunk)
			} else {
				copy(chunk, text)
			}
			if _, err := tw.Write(chunk); err != nil {
				return err
			}
			fileSize -= int64(len(chunk))
		}
	}
	return nil
}

// tarOverhead is what a tar adds around files of content: a header block
// per file, padding, and the two end blocks, for WithTotalSize's sums.
func tarOverhead(content int64) int64 {
	files := (content + dataFileSize - 1) / dataFileSize
	return 512 /* data dir */ + files*(512+511) + 1024
}

// BusyboxImage builds a real, runnable image from the host's busybox-static:
//
//   - layer 1: /bin/busybox with a symlink per applet, /etc/passwd and
//     /etc/group (root, testenv.TestUser, nobody), /tmp (1777), /root,
//     /home/berth, and the file, directory and directory content that
//     layer 2 deletes (WhiteoutPath, WhiteoutDir, OpaqueDir);
//   - layer 2: a hard link, relative and absolute symlinks, a file with an
//     xattr, setuid and setgid files, a fifo, a directory with its own mode,
//     owner and mtime (SpecialDir), a file whiteout, a directory whiteout, an
//     opaque directory, and the platform marker PlatformPath;
//   - layer 3, only with WithRandomLayer or WithTotalSize: bulk data.
//
// The config has Cmd ["sh"], Env PATH, WorkingDir /srv/berth, labels, an
// exposed port and one history entry per layer plus two empty-layer ones.
// Every entry's mtime is Epoch, so equal options give equal digests.
//
// The layers are files in a t.TempDir: the image is valid until t ends.
func BusyboxImage(t testing.TB, opts ...Opt) v1.Image {
	t.Helper()
	o, err := makeOptions(opts)
	if err != nil {
		t.Fatalf("imagetest: BusyboxImage: %v", err)
	}
	img, err := busyboxImage(t.TempDir(), o)
	if err != nil {
		t.Fatalf("imagetest: BusyboxImage: %v", err)
	}
	return img
}

func busyboxImage(dir string, o options) (v1.Image, error) {
	hostArch, binary, applets, err := hostBusybox()
	if err != nil {
		return nil, err
	}
	p := o.platform
	if !o.platformSet {
		p = v1.Platform{OS: "linux", Architecture: hostArch}
	}
	base, err := writeLayer(dir, o, func(tw *tar.Writer) error { return fillBase(tw, p, hostArch, binary, applets) })
	if err != nil {
		return nil, fmt.Errorf("layer 1: %w", err)
	}
	special, err := writeLayer(dir, o, func(tw *tar.Writer) error { return fillSpecial(tw, p) })
	if err != nil {
		return nil, fmt.Errorf("layer 2: %w", err)
	}
	layers := []*blobLayer{base, special}

	dataSize := o.dataSize
	if o.totalSize > 0 {
		// The random layer makes up the rest, less its own tar overhead.
		rest := o.totalSize - base.uncompressedSize - special.uncompressedSize
		dataSize = max(rest-tarOverhead(rest), 0)
	}
	if dataSize > 0 {
		data, err := writeLayer(dir, o, func(tw *tar.Writer) error { return fillData(tw, dataSize, o.seed) })
		if err != nil {
			return nil, fmt.Errorf("layer 3: %w", err)
		}
		layers = append(layers, data)
	}

	history := []v1.History{
		{Created: v1.Time{Time: Epoch}, CreatedBy: "ADD busybox /bin/ # imagetest layer 1", Comment: "base"},
		{Created: v1.Time{Time: Epoch}, CreatedBy: "ENV " + ImageEnv[0], EmptyLayer: true},
		{Created: v1.Time{Time: Epoch}, CreatedBy: "COPY special /  # imagetest layer 2"},
	}
	if len(layers) == 3 {
		history = append(history, v1.History{Created: v1.Time{Time: Epoch},
			CreatedBy: fmt.Sprintf("ADD data /%s # imagetest layer 3, %d bytes", DataDir, dataSize)})
	}
	history = append(history, v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: `CMD ["sh"]`, EmptyLayer: true})

	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: Epoch},
		Author:       "berth imagetest",
		Config: v1.Config{
			Cmd:          ImageCmd,
			Env:          ImageEnv,
			WorkingDir:   ImageWorkingDir,
			Labels:       o.labels,
			ExposedPorts: map[string]struct{}{ImageExposed: {}},
		},
		RootFS:  v1.RootFS{Type: "layers"},
		History: history,
	}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
	}
	return newImage(o.format, cfg, layers)
}

// ReadLayer returns every entry of l's uncompressed tar, with the content
// of regular files, for tests that check a layer's exact contents.
func ReadLayer(t testing.TB, l v1.Layer) []Entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatalf("imagetest: ReadLayer: %v", err)
	}
	defer rc.Close()
	var entries []Entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatalf("imagetest: ReadLayer: %v", err)
		}
		e := Entry{Header: h}
		if h.Typeflag == tar.TypeReg && h.Size <= 1<<20 {
			if e.Content, err = io.ReadAll(tr); err != nil {
				t.Fatalf("imagetest: ReadLayer %s: %v", h.Name, err)
			}
		}
		entries = append(entries, e)
	}
}

// Entry is one tar entry of a layer; Content is nil for entries other than
// regular files and for files over 1 MiB.
type Entry struct {
	*tar.Header
	Content []byte
}
