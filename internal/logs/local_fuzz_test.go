package logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzLocalReader feeds hostile bytes to the local reader, as the
// current file and as a rotated .gz: truncated frames, lengths up to
// 4 GiB, headers and footers that disagree, protobuf that does not parse.
// The reader must not panic nor hang, must report rather than fail, and
// a tail must be the end of the whole read.
func FuzzLocalReader(f *testing.F) {
	var valid []byte
	for i, line := range []string{"one", "two", "", "three"} {
		valid = appendLocalFrame(valid, &localEntry{source: "stdout", timeNano: int64(i + 1), line: []byte(line)})
	}
	partial := appendLocalFrame(nil, &localEntry{source: "stderr", line: []byte("p"), partial: true, meta: &partialMeta{id: "x", ordinal: 1}})
	f.Add(valid, uint8(2))
	f.Add(valid[:len(valid)-3], uint8(1))
	f.Add(append(partial, valid...), uint8(0))
	f.Add(binary.BigEndian.AppendUint32(nil, 0xffffffff), uint8(1))
	f.Add(binary.BigEndian.AppendUint32(nil, maxLocalEntry), uint8(3))
	f.Add([]byte{0, 0, 0, 2, 0x0a, 0xff, 0, 0, 0, 2}, uint8(1))
	f.Add([]byte{0, 0, 0, 1, 0x0a, 0, 0, 0, 9}, uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, tail uint8) {
		dir := t.TempDir()
		path := filepath.Join(dir, "local-logs", "container.log")
		if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		all, allErrs := readFuzz(t, path, -1)
		last, lastErrs := readFuzz(t, path, int(tail))
		if len(allErrs) == 0 && len(lastErrs) == 0 {
			if want := all[max(len(all)-int(tail), 0):]; !slices.Equal(last, want) {
				t.Fatalf("tail %d gave %q, the whole read ends %q", tail, last, want)
			}
		}
		// The same bytes compressed as a rotated file.
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		if err := os.WriteFile(path+".1.gz", z.Bytes(), 0o640); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, nil, 0o640)
		gzAll, _ := readFuzz(t, path, -1)
		if len(allErrs) == 0 && !slices.Equal(gzAll, all) {
			t.Fatalf("compressed, read %q; plain %q", gzAll, all)
		}
		readFuzz(t, path, int(tail))
		// And hostile gzip bytes.
		os.WriteFile(path+".1.gz", data, 0o640)
		readFuzz(t, path, int(tail))
	})
}

func readFuzz(t *testing.T, path string, tail int) ([]string, []error) {
	msgs, errs := Read(context.Background(), Local, path, ReadOptions{Tail: tail})
	var lines []string
	for m := range msgs {
		lines = append(lines, m.Stream+":"+string(m.Line))
	}
	var es []error
	for err := range errs {
		if _, ok := err.(*CorruptError); !ok {
			t.Fatalf("read failed instead of reporting corruption: %v", err)
		}
		es = append(es, err)
	}
	return lines, es
}

// FuzzLocalEntry checks that any output round-trips through a frame,
// and that decoding any bytes fails cleanly.
func FuzzLocalEntry(f *testing.F) {
	f.Add([]byte("hello"), "stdout", int64(1), true, "id", int32(3), true)
	f.Add([]byte{}, "", int64(-1), false, "", int32(-1), false)
	f.Add([]byte{0x0a, 0x80}, "stderr", int64(0), true, "", int32(0), false)
	f.Fuzz(func(t *testing.T, line []byte, stream string, tn int64, partial bool, id string, ordinal int32, last bool) {
		e := localEntry{source: stream, timeNano: tn, line: line, partial: partial}
		if partial {
			e.meta = &partialMeta{last: last, id: id, ordinal: ordinal}
		}
		frame := appendLocalFrame(nil, &e)
		n := binary.BigEndian.Uint32(frame)
		if int(n) != len(frame)-2*frameLenSize || binary.BigEndian.Uint32(frame[len(frame)-frameLenSize:]) != n {
			t.Fatalf("frame % x: bad lengths", frame)
		}
		got, err := decodeLocalEntry(frame[frameLenSize : len(frame)-frameLenSize])
		if err != nil {
			t.Fatal(err)
		}
		if got.source != e.source || got.timeNano != tn || !bytes.Equal(got.line, line) || got.partial != partial ||
			(e.meta == nil) != (got.meta == nil) || (e.meta != nil && *got.meta != *e.meta) {
			t.Fatalf("decoded %+v, want %+v", got, e)
		}
		// The line itself as an entry: hostile protobuf.
		if d, err := decodeLocalEntry(line); err == nil {
			m := d.message()
			if !m.Partial && !bytes.HasSuffix(m.Line, []byte("\n")) {
				t.Fatalf("complete message %q without newline", m.Line)
			}
		}
	})
}
