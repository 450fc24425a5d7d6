package interchange

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// entry is one tar entry, for building and rewriting archives in tests.
type entry struct {
	hdr  tar.Header
	data []byte
}

func readEntries(t testing.TB, b []byte) []entry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{hdr: *hdr, data: data})
	}
}

func writeEntries(t testing.TB, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func dropEntries(t testing.TB, b []byte, names ...string) []byte {
	t.Helper()
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var kept []entry
	for _, e := range readEntries(t, b) {
		if !drop[e.hdr.Name] {
			kept = append(kept, e)
		}
	}
	return writeEntries(t, kept)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
