package logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func localPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "local-logs", "container.log")
}

func newLocal(t *testing.T, path string, opts map[string]string) *LocalWriter {
	t.Helper()
	w, err := NewLocalWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestLocalFrameIsDockers(t *testing.T) {
	t.Parallel()
	// Worked out by hand from entry.proto: tags 0a 10 1a 20 2a, and in
	// the metadata 08 12 18.
	e := localEntry{source: "stdout", timeNano: 1, line: []byte("hi"), partial: true,
		meta: &partialMeta{last: true, id: "a", ordinal: 2}}
	want := []byte{0, 0, 0, 25,
		0x0a, 6, 's', 't', 'd', 'o', 'u', 't',
		0x10, 1,
		0x1a, 2, 'h', 'i',
		0x20, 1,
		0x2a, 7, 0x08, 1, 0x12, 1, 'a', 0x18, 2,
		0, 0, 0, 25}
	if got := appendLocalFrame(nil, &e); !bytes.Equal(got, want) {
		t.Fatalf("frame\n got % x\nwant % x", got, want)
	}
	// Zero values are left out, as proto3 (and gogo) write them.
	if got := appendLocalFrame(nil, &localEntry{}); !bytes.Equal(got, []byte{0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("empty entry: % x", got)
	}

	// An independent codec, Go protobuf's dynamic messages built from
	// entry.proto's descriptor, reads ours and writes what we read.
	entryDesc := logEntryDescriptor(t)
	cases := []localEntry{
		e,
		{source: "stderr", timeNano: t0.UnixNano(), line: []byte("line without newline")},
		{source: "stdout", timeNano: -5, line: bytes.Repeat([]byte{0xff, 0}, 3000), partial: true,
			meta: &partialMeta{id: strings.Repeat("f", 64), ordinal: -3}},
		{partial: true, meta: &partialMeta{}},
	}
	for _, c := range cases {
		frame := appendLocalFrame(nil, &c)
		payload := frame[frameLenSize : len(frame)-frameLenSize]
		dm := dynamicpb.NewMessage(entryDesc)
		if err := proto.Unmarshal(payload, dm); err != nil {
			t.Fatal(err)
		}
		fields := entryDesc.Fields()
		if dm.Get(fields.ByName("source")).String() != c.source ||
			dm.Get(fields.ByName("time_nano")).Int() != c.timeNano ||
			!bytes.Equal(dm.Get(fields.ByName("line")).Bytes(), c.line) ||
			dm.Get(fields.ByName("partial")).Bool() != c.partial {
			t.Fatalf("protobuf reads %v from %+v", dm, c)
		}
		if c.meta != nil {
			md := dm.Get(fields.ByName("partial_log_metadata")).Message()
			mf := md.Descriptor().Fields()
			if md.Get(mf.ByName("last")).Bool() != c.meta.last || md.Get(mf.ByName("id")).String() != c.meta.id ||
				int32(md.Get(mf.ByName("ordinal")).Int()) != c.meta.ordinal {
				t.Fatalf("protobuf reads metadata %v from %+v", md, c.meta)
			}
		}
		// With an attr (field 6, which we skip) added by protobuf.
		attrs := dm.Mutable(fields.ByName("attrs")).List()
		attr := attrs.NewElement()
		attr.Message().Set(attr.Message().Descriptor().Fields().ByName("key"), protoreflect.ValueOfString("k"))
		attrs.Append(attr)
		enc, err := proto.Marshal(dm)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeLocalEntry(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got.source != c.source || got.timeNano != c.timeNano || !bytes.Equal(got.line, c.line) || got.partial != c.partial ||
			(c.meta == nil) != (got.meta == nil) || (c.meta != nil && *got.meta != *c.meta) {
			t.Fatalf("decoded %+v, want %+v", got, c)
		}
	}
	// A known field with the wrong wire type is corrupt, not skipped.
	if _, err := decodeLocalEntry([]byte{0x0d, 1, 2, 3, 4}); err == nil {
		t.Fatal("source as fixed32 decoded")
	}
}

// logEntryDescriptor is docker's entry.proto as a descriptor.
func logEntryDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, msg string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
		if msg != "" {
			f.TypeName = proto.String(msg)
		}
		return f
	}
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("entry.proto"),
		Package: proto.String("docker.logdriver"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("LogEntry"), Field: []*descriptorpb.FieldDescriptorProto{
				field("source", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
				field("time_nano", 2, descriptorpb.FieldDescriptorProto_TYPE_INT64, opt, ""),
				field("line", 3, descriptorpb.FieldDescriptorProto_TYPE_BYTES, opt, ""),
				field("partial", 4, descriptorpb.FieldDescriptorProto_TYPE_BOOL, opt, ""),
				field("partial_log_metadata", 5, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".docker.logdriver.PartialLogEntryMetadata"),
				field("attrs", 6, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep, ".docker.logdriver.LogAttr"),
			}},
			{Name: proto.String("LogAttr"), Field: []*descriptorpb.FieldDescriptorProto{
				field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
				field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
			}},
			{Name: proto.String("PartialLogEntryMetadata"), Field: []*descriptorpb.FieldDescriptorProto{
				field("last", 1, descriptorpb.FieldDescriptorProto_TYPE_BOOL, opt, ""),
				field("id", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
				field("ordinal", 3, descriptorpb.FieldDescriptorProto_TYPE_INT32, opt, ""),
			}},
		},
	}
	file, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return file.Messages().ByName("LogEntry")
}

func TestLocalOptions(t *testing.T) {
	t.Parallel()
	o, err := parseLocalOpts(nil)
	if err != nil || o != (localOpts{maxSize: 20 << 20, maxFiles: 5, compress: true}) {
		t.Fatalf("defaults %+v %v, docker's are 20 MiB, 5 files, compressed", o, err)
	}
	if o, _ := parseLocalOpts(map[string]string{"max-size": "10k", "max-file": "3", "compress": "false"}); o != (localOpts{maxSize: 10_000, maxFiles: 3}) {
		t.Fatalf("parsed %+v", o)
	}
	for _, good := range []map[string]string{
		{"max-size": "0"},
		{"max-file": "1", "compress": "false"},
		{"labels": "a", "env": "B", "tag": "{{.Name}}", "labels-regex": ".", "env-regex": "."},
		// docker's options for every driver.
		{"mode": "non-blocking", "max-buffer-size": "4m"},
		{"mode": "blocking"},
	} {
		if err := ValidateOpts(Local, good); err != nil {
			t.Errorf("%v: %v", good, err)
		}
	}
	bad := []struct {
		opts map[string]string
		msg  string
	}{
		{map[string]string{"max-size": "x"}, "invalid value for max-size: x: invalid size: 'x'"},
		{map[string]string{"max-size": "-1"}, "invalid value for max-size: -1: invalid size: '-1'"},
		{map[string]string{"max-file": "x"}, `invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax`},
		{map[string]string{"max-file": "-1", "compress": "false"}, "max-file must not be negative"},
		{map[string]string{"compress": "maybe"}, `invalid boolean value for compress: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{map[string]string{"max-file": "1"}, "compression cannot be enabled when max file count is 1"},
		{map[string]string{"max-file": "0"}, "compression cannot be enabled when max file count is 1"},
		{map[string]string{"foo": "bar"}, "unknown log opt 'foo' for log driver local"},
		{map[string]string{"mode": "sometimes"}, "logger: logging mode not supported: sometimes"},
		{map[string]string{"max-buffer-size": "4m"}, "logger: max-buffer-size option is only supported with 'mode=non-blocking'"},
		{map[string]string{"zz": "1", "aa": "2"}, "unknown log opt 'aa' for log driver local"},
	}
	for _, b := range bad {
		err := ValidateOpts(Local, b.opts)
		if err == nil || err.Error() != b.msg || !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: got %v, want InvalidParameter %q", b.opts, err, b.msg)
		}
		if _, err := NewWriter(Local, localPath(t), b.opts); err == nil || err.Error() != b.msg {
			t.Errorf("NewWriter %v: %v", b.opts, err)
		}
	}
}

func TestLocalRoundTrip(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w, err := NewWriter(Local, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, t0, "r", 0, 50)
	// A blank line is an entry with no line field.
	if err := w.WriteMessage(Message{Stream: "stdout", Line: []byte("\n"), Time: t0}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(Message{Line: []byte("x\n")}); err == nil {
		t.Fatal("write after close")
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("log dir: %v %v, docker makes it 0700", fi, err)
	}
	// The file is bare frames: lines without their newline.
	data, _ := os.ReadFile(path)
	first := binary.BigEndian.Uint32(data)
	e, err := decodeLocalEntry(data[4 : 4+first])
	if err != nil || string(e.line) != "r-0" || e.source != "stderr" || e.timeNano != t0.UnixNano() || e.partial {
		t.Fatalf("first entry %+v %v", e, err)
	}

	msgs, errs := Read(context.Background(), Local, path, ReadOptions{Tail: -1})
	var got []Message
	for m := range msgs {
		got = append(got, m)
	}
	for err := range errs {
		t.Fatal(err)
	}
	if len(got) != 51 || string(got[50].Line) != "\n" {
		t.Fatalf("read %d entries", len(got))
	}
	for i, m := range got[:50] {
		stream := "stdout"
		if i%3 == 0 {
			stream = "stderr"
		}
		if string(m.Line) != "r-"+strconv.Itoa(i)+"\n" || m.Stream != stream || m.Partial ||
			!m.Time.Equal(t0.Add(time.Duration(i)*time.Microsecond)) || m.Time.Location() != time.UTC {
			t.Fatalf("entry %d: %+v", i, m)
		}
	}
}

// TestLocalPartial: a line split by the shim is stored as docker's
// copier stores it, and read back as docker's reader gives it: the
// chunks in order, a newline only after the last, so written out they
// are the line again.
func TestLocalPartial(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w := newLocal(t, path, nil)
	msgs := []Message{
		{Stream: "stdout", Line: []byte("aaa"), Partial: true, Time: t0},
		{Stream: "stderr", Line: []byte("err\n"), Time: t0.Add(1)},
		{Stream: "stdout", Line: []byte("bbb"), Partial: true, Time: t0.Add(2)},
		{Stream: "stdout", Line: []byte("ccc\n"), Time: t0.Add(3)},
		{Stream: "stdout", Line: []byte("whole\n"), Time: t0.Add(4)},
		// A stream that ends without a newline: never marked last.
		{Stream: "stderr", Line: []byte("tail"), Partial: true, Time: t0.Add(5)},
	}
	for _, m := range msgs {
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()

	var entries []localEntry
	data, _ := os.ReadFile(path)
	fr := newFrameReader(bytes.NewReader(data), 0, int64(len(data)))
	for {
		p, err := fr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e, err := decodeLocalEntry(p)
		if err != nil {
			t.Fatal(err)
		}
		e.line = bytes.Clone(e.line)
		entries = append(entries, e)
	}
	if len(entries) != 6 {
		t.Fatalf("%d entries", len(entries))
	}
	a, b, c := entries[0], entries[2], entries[3]
	if !a.partial || !b.partial || !c.partial || a.meta.id != b.meta.id || b.meta.id != c.meta.id || len(a.meta.id) != 64 ||
		a.meta.ordinal != 1 || b.meta.ordinal != 2 || c.meta.ordinal != 3 || a.meta.last || b.meta.last || !c.meta.last {
		t.Fatalf("partial chunks %+v %+v %+v", a.meta, b.meta, c.meta)
	}
	// docker's copier stamps every chunk with the first one's time.
	if a.timeNano != t0.UnixNano() || c.timeNano != t0.UnixNano() || string(c.line) != "ccc" {
		t.Fatalf("chunk times %d %d, line %q", a.timeNano, c.timeNano, c.line)
	}
	if entries[1].partial || entries[4].partial || entries[1].meta != nil {
		t.Fatalf("whole lines marked partial: %+v %+v", entries[1], entries[4])
	}
	if e := entries[5]; !e.partial || e.meta.last || e.meta.id == a.meta.id || e.meta.ordinal != 1 {
		t.Fatalf("unterminated tail %+v %+v", e, e.meta)
	}

	rmsgs, errs := Read(context.Background(), Local, path, ReadOptions{Tail: -1})
	var out, stdout bytes.Buffer
	var partials []bool
	for m := range rmsgs {
		out.Write(m.Line)
		if m.Stream == "stdout" {
			stdout.Write(m.Line)
		}
		partials = append(partials, m.Partial)
	}
	for err := range errs {
		t.Fatal(err)
	}
	if stdout.String() != "aaabbbccc\nwhole\n" || out.String() != "aaaerr\nbbbccc\nwhole\ntail" {
		t.Fatalf("read back %q (stdout %q)", out.String(), stdout.String())
	}
	if want := []bool{true, false, true, false, false, true}; !equalBools(partials, want) {
		t.Fatalf("partial flags %v, want %v", partials, want)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// readAll returns the entries' lines, failing on any error.
func readLocal(t *testing.T, path string, opts ReadOptions) []string {
	t.Helper()
	msgs, errs := Read(context.Background(), Local, path, opts)
	lines, es := collect(t, msgs, errs)
	if len(es) != 0 {
		t.Fatal(es)
	}
	return lines
}

func TestLocalRotationAndCompression(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w := newLocal(t, path, map[string]string{"max-size": "1k", "max-file": "3"})
	write(t, w, t0, "line", 0, 200)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(path + "*")
	want := []string{path, path + ".1.gz", path + ".2.gz"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", names, want)
	}
	var lastTimes []time.Time
	for _, name := range want[1:] {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		// docker's header: {"lastTime": ...} in Extra.
		var meta struct {
			LastTime time.Time `json:"lastTime"`
		}
		if err := json.Unmarshal(zr.Header.Extra, &meta); err != nil || meta.LastTime.IsZero() {
			t.Fatalf("%s: gzip extra %q: %v", name, zr.Header.Extra, err)
		}
		lastTimes = append(lastTimes, meta.LastTime)
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// A file goes past max-size by at most one entry.
		if len(data) < 1000 || len(data) > 1000+40 {
			t.Errorf("%s holds %d bytes, max-size is 1000", name, len(data))
		}
	}
	if !lastTimes[1].Before(lastTimes[0]) {
		t.Errorf("last times %v: .2 is not older than .1", lastTimes)
	}
	lines := readLocal(t, path, ReadOptions{Tail: -1})
	first, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(lines[0], "line-"), "\n"))
	expect(t, lines, "line", first, 200)
	if first == 0 {
		t.Fatal("nothing was rotated out")
	}

	// Reopening appends, and rotates on.
	w = newLocal(t, path, map[string]string{"max-size": "1k", "max-file": "3"})
	write(t, w, t0, "line", 200, 2)
	w.Close()
	expect(t, readLocal(t, path, ReadOptions{Tail: 3}), "line", 199, 202)

	// Uncompressed, and max-file 1 (the file is replaced).
	plain := localPath(t)
	w = newLocal(t, plain, map[string]string{"max-size": "1k", "max-file": "3", "compress": "false"})
	write(t, w, t0, "p", 0, 200)
	w.Close()
	if names, _ := filepath.Glob(plain + "*"); strings.Join(names, " ") != plain+" "+plain+".1 "+plain+".2" {
		t.Fatalf("uncompressed rotation left %v", names)
	}
	expect(t, readLocal(t, plain, ReadOptions{Tail: 60}), "p", 140, 200)
	one := localPath(t)
	w = newLocal(t, one, map[string]string{"max-size": "500", "max-file": "1", "compress": "false"})
	write(t, w, t0, "o", 0, 100)
	w.Close()
	if names, _ := filepath.Glob(one + "*"); len(names) != 1 {
		t.Fatalf("max-file 1 left %v", names)
	}
	expect(t, readLocal(t, one, ReadOptions{Tail: 2}), "o", 98, 100)
}

func TestLocalTailAcrossCompressedFiles(t *testing.T) {
	t.Parallel()
	for _, compress := range []string{"true", "false"} {
		path := localPath(t)
		w := newLocal(t, path, map[string]string{"max-size": "300", "max-file": "50", "compress": compress})
		write(t, w, t0, "l", 0, 100)
		w.Close()
		if names, _ := filepath.Glob(path + ".*"); len(names) < 5 {
			t.Fatalf("only %d rotated files", len(names))
		}
		for _, n := range []int{0, 1, 3, 4, 7, 20, 99, 100, 500, -1} {
			from := max(100-n, 0)
			if n < 0 {
				from = 0
			}
			expect(t, readLocal(t, path, ReadOptions{Tail: n}), "l", from, 100)
		}
	}
	// A missing log, even without its directory, is empty.
	if lines := readLocal(t, localPath(t), ReadOptions{Tail: -1}); len(lines) != 0 {
		t.Fatal(lines)
	}
}

func TestLocalSinceUntil(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w := newLocal(t, path, map[string]string{"max-size": "400", "max-file": "20"})
	write(t, w, t0, "s", 0, 50)
	w.Close()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Microsecond) }
	cases := []struct {
		opts     ReadOptions
		from, to int
	}{
		{ReadOptions{Tail: -1, Since: at(10)}, 10, 50},
		{ReadOptions{Tail: -1, Until: at(20)}, 0, 21},
		{ReadOptions{Tail: -1, Since: at(10), Until: at(20)}, 10, 21},
		{ReadOptions{Tail: 5, Since: at(47)}, 47, 50},
		{ReadOptions{Tail: 5, Since: at(10)}, 45, 50},
		{ReadOptions{Tail: 30, Since: at(10)}, 20, 50},
		{ReadOptions{Tail: -1, Since: at(60)}, 0, 0},
		{ReadOptions{Tail: -1, Until: at(5), Follow: true}, 0, 6},
	}
	for _, c := range cases {
		expect(t, readLocal(t, path, c.opts), "s", c.from, c.to)
	}
}

func TestLocalFollowAcrossRotation(t *testing.T) {
	t.Parallel()
	for _, compress := range []string{"true", "false"} {
		path := localPath(t)
		done := make(chan struct{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// The follower starts before the directory exists.
		msgs, errs := Read(ctx, Local, path, ReadOptions{Tail: -1, Follow: true, Done: done})
		w := newLocal(t, path, map[string]string{"max-size": "200", "max-file": "100", "compress": compress})
		f := &follower{t: t, ctx: ctx, msgs: msgs, errs: errs, done: done}
		for i := range 30 {
			write(t, w, t0, "f", i, 1)
			f.next()
		}
		// Bursts that rotate (and compress) many times between wake-ups:
		// the follower is blocked on its channel meanwhile.
		write(t, w, t0, "f", 30, 300)
		for range 300 {
			f.next()
		}
		write(t, w, t0, "f", 330, 10)
		w.Close()
		expect(t, f.finish(), "f", 0, 340)
	}
}

func TestLocalFollowMaxFileOne(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w := newLocal(t, path, map[string]string{"max-size": "300", "max-file": "1", "compress": "false"})
	write(t, w, t0, "m", 0, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	msgs, errs := Read(ctx, Local, path, ReadOptions{Tail: 0, Follow: true, Done: done})
	var got []string
	for i := 2; i < 60; i++ {
		write(t, w, t0, "m", i, 1)
		select {
		case m := <-msgs:
			got = append(got, string(m.Line))
		case <-ctx.Done():
			t.Fatalf("timeout after %d", len(got))
		}
	}
	w.Close()
	close(done)
	rest, es := collect(t, msgs, errs)
	if len(es) != 0 {
		t.Fatal(es)
	}
	expect(t, append(got, rest...), "m", 2, 60)
}

func TestLocalConcurrentWriterReaders(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w := newLocal(t, path, map[string]string{"max-size": "4k", "max-file": "1000"})
	const n = 5000
	write(t, w, t0, "c", 0, 100)
	done := make(chan struct{})
	go func() {
		for i := 100; i < n; i++ {
			m := Message{Stream: "stdout", Line: []byte("c-" + strconv.Itoa(i) + "\n"), Time: t0.Add(time.Duration(i) * time.Microsecond)}
			if err := w.WriteMessage(m); err != nil {
				t.Error(err)
				break
			}
		}
		w.Close()
		close(done)
	}()
	// Readers start while the writer runs and rotates: each sees every
	// entry exactly once, in order.
	var readers sync.WaitGroup
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			msgs, errs := Read(context.Background(), Local, path, ReadOptions{Tail: -1, Follow: true, Done: done})
			lines, es := collect(t, msgs, errs)
			if len(es) != 0 {
				t.Error(es)
			}
			for i, l := range lines {
				if want := "c-" + strconv.Itoa(i) + "\n"; l != want {
					t.Errorf("entry %d is %q, want %q", i, l, want)
					return
				}
			}
			if len(lines) != n {
				t.Errorf("read %d entries, want %d", len(lines), n)
			}
		}()
	}
	readers.Wait()
	<-done
}

// TestLocalTornAndCorrupt: a frame cut short (a crash mid-write) or bytes
// that are not frames end what can be read of a file, and are reported;
// the writer cuts a torn end off when it reopens.
func TestLocalTornAndCorrupt(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w := newLocal(t, path, map[string]string{"compress": "false"})
	write(t, w, t0, "k", 0, 5)
	w.Close()
	good, _ := os.ReadFile(path)

	torn := append(bytes.Clone(good), appendLocalFrame(nil, &localEntry{source: "stdout", line: []byte("cut")})[:9]...)
	os.WriteFile(path, torn, 0o640)
	// Being written, as far as a reader knows: no error, and follow
	// would resume there.
	expect(t, readLocal(t, path, ReadOptions{Tail: -1}), "k", 0, 5)
	expect(t, readLocal(t, path, ReadOptions{Tail: 2}), "k", 3, 5)
	w = newLocal(t, path, map[string]string{"compress": "false"})
	write(t, w, t0, "k", 5, 1)
	w.Close()
	expect(t, readLocal(t, path, ReadOptions{Tail: -1}), "k", 0, 6)

	// Garbage in the middle: the entries before it, and one report.
	var bad []byte
	for i := range 5 {
		if i == 2 {
			bad = binary.BigEndian.AppendUint32(bad, 0xfffffff0)
			bad = append(bad, "garbage"...)
		}
		bad = appendLocalFrame(bad, &localEntry{source: "stdout", line: []byte("k-" + strconv.Itoa(i)), timeNano: 1})
	}
	os.WriteFile(path, bad, 0o640)
	for _, opts := range []ReadOptions{{Tail: -1}, {Tail: 2}, {Tail: -1, Follow: true, Done: closedDone()}} {
		msgs, errs := Read(context.Background(), Local, path, opts)
		lines, es := collect(t, msgs, errs)
		var ce *CorruptError
		if len(es) != 1 || !errors.As(es[0], &ce) || !errors.Is(ce, errFrameTooLarge) || ce.Offset != 2*int64(len(appendLocalFrame(nil, &localEntry{source: "stdout", line: []byte("k-0"), timeNano: 1}))) {
			t.Fatalf("%+v: errors %v", opts, es)
		}
		expect(t, lines, "k", 0, 2)
	}
	// A torn rotated file: walked forward, read up to the tear.
	os.WriteFile(path+".1", torn, 0o640)
	os.WriteFile(path, good, 0o640)
	msgs, errs := Read(context.Background(), Local, path, ReadOptions{Tail: 7})
	lines, es := collect(t, msgs, errs)
	if len(es) != 1 || !errors.Is(es[0], io.ErrUnexpectedEOF) {
		t.Fatalf("torn rotated file: errors %v", es)
	}
	if strings.Join(lines, "") != "k-3\nk-4\nk-0\nk-1\nk-2\nk-3\nk-4\n" {
		t.Fatalf("tail across a torn rotated file: %q", lines)
	}
}

// TestLocalHugeLengthIsNotAllocated: a length field is never trusted
// with memory: above docker's 1 MB it is refused outright, and within it
// a file that does not hold that many bytes is not read into a buffer.
func TestLocalHugeLengthIsNotAllocated(t *testing.T) {
	path := localPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	var data []byte
	data = binary.BigEndian.AppendUint32(data, maxLocalEntry)
	data = append(data, "short"...)
	os.WriteFile(path+".1", data, 0o640)
	data = binary.BigEndian.AppendUint32(nil, 0xffffffff)
	os.WriteFile(path, append(data, make([]byte, 100)...), 0o640)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 20 {
		msgs, errs := Read(context.Background(), Local, path, ReadOptions{Tail: -1})
		for range msgs {
		}
		for range errs {
		}
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 20*(256<<10) {
		t.Fatalf("20 reads of hostile lengths allocated %d bytes", grown)
	}
}

func closedDone() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// TestLocalInterruptedCompression: a crash while a rotated file was being
// compressed leaves it under both names, the .gz incomplete. Readers take
// the plain one; the next writer compresses it again.
func TestLocalInterruptedCompression(t *testing.T) {
	t.Parallel()
	path := localPath(t)
	w := newLocal(t, path, map[string]string{"compress": "false", "max-file": "2", "max-size": "1k"})
	write(t, w, t0, "z", 0, 60)
	w.Close()
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path+".1.gz", []byte("\x1f\x8b\x08\x00 torn"), 0o640)
	all := readLocal(t, path, ReadOptions{Tail: -1})
	first, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(all[0], "z-"), "\n"))
	expect(t, all, "z", first, 60)

	w = newLocal(t, path, map[string]string{"max-file": "2", "max-size": "1k"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".1"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the plain rotated file is still there: %v", err)
	}
	f, err := os.Open(path + ".1.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m, err := readGzipMeta(f); err != nil || m.SourceInode == 0 {
		t.Fatalf("gzip header %+v %v", m, err)
	}
	expect(t, readLocal(t, path, ReadOptions{Tail: -1}), "z", first, 60)
}
