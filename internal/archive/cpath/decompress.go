package cpath

import (
	"bufio"
	"bytes"
	"io"
	"strconv"

	"github.com/berth-project/berth/internal/archive"
)

// decompress gives the tar stream in r, which may be compressed as
// dockerd's untar allows. A stream whose first block is a valid tar
// header is a plain tar, whatever its first bytes look like: a file named
// "BZh9..." first would read as bzip2 to magic-byte detection alone.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if block, _ := br.Peek(512); len(block) == 512 && tarHeader(block) {
		return io.NopCloser(br), nil
	}
	rc, _, err := archive.DecompressStream(br)
	return rc, err
}

// tarHeader says block is a tar header: its checksum field matches the
// sum of its bytes with that field read as spaces (POSIX; some old
// writers summed signed bytes, which is accepted too).
func tarHeader(block []byte) bool {
	field := bytes.TrimRight(bytes.Trim(block[148:156], " \x00"), " \x00")
	want, err := strconv.ParseInt(string(field), 8, 64)
	if err != nil {
		return false
	}
	var unsigned, signed int64
	for i, c := range block {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return want == unsigned || want == signed
}
