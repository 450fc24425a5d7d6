package logs

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// gzipMeta is the JSON docker keeps in a rotated file's gzip header
// (Extra): the time of its last entry, so a read with --since can pass
// over the file without decompressing it. Berth adds the inode the file
// had before it was compressed: a follower holds the file open while the
// writer rotates and compresses it, and must find which .gz is the file
// it was reading to know which ones it missed. docker ignores the extra
// key.
type gzipMeta struct {
	LastTime    time.Time `json:"lastTime,omitempty"`
	SourceInode uint64    `json:"berthSourceInode,omitempty"`
}

// compressRotated gzips plain (path.1 just after a rotation) to
// plain.gz and removes plain. The .gz is complete and synced before
// plain goes, so at any moment a reader finds the whole content under one
// of the two names (it prefers plain); a crash leaves plain, which the
// next writer compresses again.
func compressRotated(plain string, lastTime time.Time) (retErr error) {
	in, err := os.Open(plain)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	meta := gzipMeta{LastTime: lastTime, SourceInode: inodeOf(fi)}
	out, err := os.OpenFile(plain+".gz", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err := out.Close(); err != nil && retErr == nil {
			retErr = err
		}
		if retErr != nil {
			os.Remove(plain + ".gz")
		}
	}()
	// BestSpeed: the shim compresses, and its memory is budgeted per
	// container; the fast level's compressor is a fraction of the
	// default's, and the format is the same to every reader.
	zw, err := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if zw.Header.Extra, err = json.Marshal(meta); err != nil {
		return err
	}
	if _, err := io.Copy(zw, in); err != nil {
		return fmt.Errorf("compress %s: %w", plain, err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return os.Remove(plain)
}

// readGzipMeta reads a compressed file's header; a header without
// docker's JSON (a file gzip'ed by hand) gives a zero gzipMeta.
func readGzipMeta(f *os.File) (gzipMeta, error) {
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return gzipMeta{}, err
	}
	var m gzipMeta
	if json.Unmarshal(zr.Header.Extra, &m) != nil {
		m = gzipMeta{}
	}
	return m, nil
}

func inodeOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
