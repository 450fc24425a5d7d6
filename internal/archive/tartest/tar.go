// Package tartest builds tar streams for tests: entries of every type, with
// any owner, mode, times and xattrs, and the hostile ones no tar writer of a
// real tree makes (".." names, links out of the root, writes through
// symlinks, absurd sizes, broken headers).
//
//	layer := tartest.Build(
//		tartest.Dir("etc", 0o755),
//		tartest.File("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644, tartest.Owner(0, 0)),
//		tartest.Symlink("link", "/etc"),
//		tartest.File("link/passwd", "pwned", 0o644), // a write through a symlink
//	)
package tartest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Entry writes one or more records of a test archive.
type Entry func(w *Writer) error

// Writer is what entries write to: a tar writer and, for records
// archive/tar refuses to make, the raw stream under it.
type Writer struct {
	TW  *tar.Writer
	Raw io.Writer
}

// DefaultTime is the mtime of entries that do not set one, so archives
// built twice are the same bytes.
var DefaultTime = time.Date(2024, 1, 2, 3, 4, 5, 600000000, time.UTC)

// Option changes the header of one entry.
type Option func(*tar.Header)

// Owner sets uid and gid.
func Owner(uid, gid int) Option { return func(h *tar.Header) { h.Uid, h.Gid = uid, gid } }

// ModTime sets the mtime (with nanoseconds: the header is PAX).
func ModTime(t time.Time) Option { return func(h *tar.Header) { h.ModTime = t } }

// AccessTime sets the atime.
func AccessTime(t time.Time) Option { return func(h *tar.Header) { h.AccessTime = t } }

// Xattr adds an extended attribute (a SCHILY.xattr PAX record).
func Xattr(name, value string) Option {
	return func(h *tar.Header) {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+name] = value
	}
}

// Size overrides the size the header declares (the content written stays
// what the entry holds).
func Size(n int64) Option { return func(h *tar.Header) { h.Size = n } }

// GNU writes the header in GNU format (long names as ././@LongLink
// records) instead of PAX.
func GNU() Option {
	return func(h *tar.Header) {
		h.Format = tar.FormatGNU
		h.PAXRecords = nil
		h.ModTime = h.ModTime.Truncate(time.Second)
		h.AccessTime = time.Time{}
	}
}

func header(typ byte, name string, mode int64, opts []Option) *tar.Header {
	h := &tar.Header{Typeflag: typ, Name: name, Mode: mode, ModTime: DefaultTime, Format: tar.FormatPAX}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Header writes hdr as given, followed by content.
func Header(hdr *tar.Header, content []byte) Entry {
	return func(w *Writer) error {
		if err := w.TW.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tartest: header %q: %w", hdr.Name, err)
		}
		if len(content) > 0 {
			if _, err := w.TW.Write(content); err != nil {
				return fmt.Errorf("tartest: content of %q: %w", hdr.Name, err)
			}
		}
		return nil
	}
}

// File is a regular file.
func File(name, content string, mode int64, opts ...Option) Entry {
	h := header(tar.TypeReg, name, mode, opts)
	if h.Size == 0 {
		h.Size = int64(len(content))
	}
	return Header(h, []byte(content))
}

// Dir is a directory.
func Dir(name string, mode int64, opts ...Option) Entry {
	return Header(header(tar.TypeDir, name, mode, opts), nil)
}

// Symlink is a symlink name -> target.
func Symlink(name, target string, opts ...Option) Entry {
	h := header(tar.TypeSymlink, name, 0o777, opts)
	h.Linkname = target
	return Header(h, nil)
}

// Link is a hard link name to the earlier entry (or existing file) target.
func Link(name, target string, opts ...Option) Entry {
	h := header(tar.TypeLink, name, 0o644, opts)
	h.Linkname = target
	return Header(h, nil)
}

// Char is a character device.
func Char(name string, major, minor int64, mode int64, opts ...Option) Entry {
	h := header(tar.TypeChar, name, mode, opts)
	h.Devmajor, h.Devminor = major, minor
	return Header(h, nil)
}

// Block is a block device.
func Block(name string, major, minor int64, mode int64, opts ...Option) Entry {
	h := header(tar.TypeBlock, name, mode, opts)
	h.Devmajor, h.Devminor = major, minor
	return Header(h, nil)
}

// Fifo is a named pipe.
func Fifo(name string, mode int64, opts ...Option) Entry {
	return Header(header(tar.TypeFifo, name, mode, opts), nil)
}

// Whiteout is the AUFS-style deletion of p: "dir/.wh.base".
func Whiteout(p string) Entry {
	dir, base := path.Split(p)
	return File(dir+".wh."+base, "", 0o600)
}

// Opaque marks directory dir opaque: "dir/.wh..wh..opq".
func Opaque(dir string) Entry {
	return File(strings.TrimSuffix(dir, "/")+"/.wh..wh..opq", "", 0o600)
}

// Raw writes bytes straight to the stream, for records archive/tar would
// refuse to write. Flush any buffered tar data first: entries before it
// are complete, since each Header writes its whole content.
func Raw(b []byte) Entry {
	return func(w *Writer) error {
		if err := w.TW.Flush(); err != nil {
			return err
		}
		_, err := w.Raw.Write(b)
		return err
	}
}

// RawHeader is a ustar header block whose size field holds sizeField
// verbatim (11 characters at most, or a base-256 form starting with 0x80
// or 0xff), with a valid checksum: how a negative or absurd size reaches a
// reader. Content, if any, follows padded to 512 bytes.
func RawHeader(name string, typ byte, sizeField []byte, content []byte) Entry {
	var b [512]byte
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], sizeField)
	copy(b[136:148], "00000000000\x00")
	b[156] = typ
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	for i := 148; i < 156; i++ {
		b[i] = ' '
	}
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	out := append([]byte(nil), b[:]...)
	if len(content) > 0 {
		out = append(out, content...)
		if pad := len(content) % 512; pad != 0 {
			out = append(out, make([]byte, 512-pad)...)
		}
	}
	return Raw(out)
}

// All is the entries in order, as one.
func All(entries ...Entry) Entry {
	return func(w *Writer) error {
		for _, e := range entries {
			if err := e(w); err != nil {
				return err
			}
		}
		return nil
	}
}

// Build returns the archive of entries, closed with the two zero blocks
// of a proper end. It panics if an entry cannot be written: that is a bug
// in the test.
func Build(entries ...Entry) []byte {
	var buf bytes.Buffer
	w := &Writer{TW: tar.NewWriter(&buf), Raw: &buf}
	if err := All(entries...)(w); err != nil {
		panic(err)
	}
	if err := w.TW.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Reader is Build as a reader.
func Reader(entries ...Entry) io.Reader { return bytes.NewReader(Build(entries...)) }
