package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)

func TestEntryFormatIsDockers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		m    Message
		want string
	}{
		{Message{Stream: "stdout", Line: []byte("hello\n"), Time: t0},
			`{"log":"hello\n","stream":"stdout","time":"2026-01-02T03:04:05.12Z"}` + "\n"},
		{Message{Stream: "stderr", Line: []byte("no newline"), Time: t0.Add(5)},
			`{"log":"no newline","stream":"stderr","time":"2026-01-02T03:04:05.120000005Z"}` + "\n"},
		{Message{Stream: "stdout", Line: []byte("<a href=\"x\">&\\\t\r\n"), Time: t0.Truncate(time.Second)},
			`{"log":"\u003ca href=\"x\"\u003e\u0026\\\u0009\r\n","stream":"stdout","time":"2026-01-02T03:04:05Z"}` + "\n"},
		{Message{Stream: "stdout", Line: []byte("bad \xff utf8 \u2028 é\n"), Time: t0},
			`{"log":"bad \ufffd utf8 \u2028 é\n","stream":"stdout","time":"2026-01-02T03:04:05.12Z"}` + "\n"},
		// A non-UTC time is written in UTC, as docker's copier stamps it.
		{Message{Stream: "stdout", Line: []byte("x\n"), Time: t0.In(time.FixedZone("X", 3600))},
			`{"log":"x\n","stream":"stdout","time":"2026-01-02T03:04:05.12Z"}` + "\n"},
	}
	for _, c := range cases {
		if got := string(appendEntry(nil, c.m, nil)); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
		m, err := decodeEntry(bytes.TrimSuffix([]byte(c.want), []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		if m.Stream != c.m.Stream || !m.Time.Equal(c.m.Time) {
			t.Errorf("round trip of %q: %+v", c.want, m)
		}
		if m.Partial != !bytes.HasSuffix(c.m.Line, []byte("\n")) {
			t.Errorf("round trip of %q: partial %v", c.want, m.Partial)
		}
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	good := []map[string]string{
		nil,
		{"max-size": "10m", "max-file": "3"},
		{"max-size": "1k"},
		{"compress": "false", "labels": "a", "tag": "{{.Name}}"},
		{"mode": "non-blocking", "max-buffer-size": "1m"},
	}
	for _, o := range good {
		if err := ValidateOpts(JSONFile, o); err != nil {
			t.Errorf("%v: %v", o, err)
		}
	}
	bad := []struct {
		opts map[string]string
		msg  string
	}{
		{map[string]string{"max-size": "0"}, "max-size must be a positive number"},
		{map[string]string{"max-size": "-1"}, "invalid size: '-1'"},
		{map[string]string{"max-file": "0"}, "max-file cannot be less than 1"},
		{map[string]string{"max-file": "x"}, `strconv.Atoi: parsing "x": invalid syntax`},
		{map[string]string{"foo": "bar"}, "unknown log opt 'foo' for json-file log driver"},
	}
	for _, b := range bad {
		err := ValidateOpts(JSONFile, b.opts)
		if err == nil || err.Error() != b.msg || !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: got %v, want InvalidParameter %q", b.opts, err, b.msg)
		}
	}
	if o, _ := parseJSONFileOpts(map[string]string{"max-size": "10m"}); o.maxSize != 10_000_000 {
		t.Errorf("10m = %d bytes, docker says 10000000", o.maxSize)
	}
	if err := ValidateOpts("nope", nil); !errdefs.IsInvalidParameter(err) {
		t.Errorf("unknown driver: %v", err)
	}
}

// write logs n entries "prefix-i\n" one microsecond apart from start.
func write(t *testing.T, w Writer, start time.Time, prefix string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		m := Message{Stream: "stdout", Line: []byte(prefix + "-" + strconv.Itoa(i) + "\n"), Time: start.Add(time.Duration(i) * time.Microsecond)}
		if i%3 == 0 {
			m.Stream = "stderr"
		}
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
}

func collect(t *testing.T, msgs <-chan Message, errs <-chan error) ([]string, []error) {
	t.Helper()
	var lines []string
	for m := range msgs {
		lines = append(lines, string(m.Line))
	}
	var es []error
	for err := range errs {
		es = append(es, err)
	}
	return lines, es
}

func expect(t *testing.T, got []string, prefix string, from, to int) {
	t.Helper()
	var want []string
	for i := from; i < to; i++ {
		want = append(want, prefix+"-"+strconv.Itoa(i)+"\n")
	}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("got %d lines %q...\nwant %d lines %q...", len(got), head(got), len(want), head(want))
	}
}

func head(s []string) []string {
	if len(s) > 6 {
		return append(s[:3:3], s[len(s)-3:]...)
	}
	return s
}

func TestRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c-json.log")
	w, err := NewJSONFileWriter(path, map[string]string{"max-size": "1k", "max-file": "3"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, t0, "line", 0, 200)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(path + "*")
	if len(names) != 3 {
		t.Fatalf("files %v, want 3 (max-file)", names)
	}
	var last string
	for _, name := range []string{path + ".2", path + ".1", path} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// A file goes past max-size by at most one entry.
		if len(data) > 1000+100 {
			t.Errorf("%s has %d bytes, max-size is 1000", name, len(data))
		}
		if name != path && len(data) < 1000 {
			t.Errorf("%s rotated at %d bytes, before max-size", name, len(data))
		}
		if !bytes.HasSuffix(data, []byte("\n")) || (last != "" && string(data) <= last) {
			t.Errorf("%s out of order", name)
		}
		last = string(data)
	}
	// The newest entries survive, oldest first.
	msgs, errs := Read(context.Background(), JSONFile, path, ReadOptions{Tail: -1})
	lines, es := collect(t, msgs, errs)
	if len(es) != 0 {
		t.Fatal(es)
	}
	first, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(lines[0], "line-"), "\n"))
	expect(t, lines, "line", first, 200)

	// max-file 1: the file is replaced, no .1 appears.
	path1 := filepath.Join(dir, "one.log")
	w1, err := NewJSONFileWriter(path1, map[string]string{"max-size": "500"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w1, t0, "x", 0, 100)
	w1.Close()
	if names, _ := filepath.Glob(path1 + "*"); len(names) != 1 {
		t.Fatalf("max-file 1 left %v", names)
	}
	if fi, _ := os.Stat(path1); fi.Size() > 600 {
		t.Fatalf("max-file 1: %d bytes", fi.Size())
	}
	// Reopening appends.
	w2, err := NewJSONFileWriter(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w2, t0, "line", 200, 1)
	w2.Close()
	msgs, errs = Read(context.Background(), JSONFile, path, ReadOptions{Tail: 2})
	lines, _ = collect(t, msgs, errs)
	expect(t, lines, "line", 199, 201)
}

func TestTailAcrossFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewJSONFileWriter(path, map[string]string{"max-size": "300", "max-file": "50"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, t0, "l", 0, 100)
	w.Close()
	if names, _ := filepath.Glob(path + ".*"); len(names) < 5 {
		t.Fatalf("only %d rotated files", len(names))
	}
	for _, n := range []int{0, 1, 3, 4, 7, 20, 99, 100, 500} {
		msgs, errs := Read(context.Background(), JSONFile, path, ReadOptions{Tail: n})
		lines, es := collect(t, msgs, errs)
		if len(es) != 0 {
			t.Fatal(es)
		}
		from := max(100-n, 0)
		expect(t, lines, "l", from, 100)
	}
	// A missing log is empty, not an error.
	msgs, errs := Read(context.Background(), JSONFile, filepath.Join(t.TempDir(), "none.log"), ReadOptions{Tail: -1})
	if lines, es := collect(t, msgs, errs); len(lines) != 0 || len(es) != 0 {
		t.Fatal(lines, es)
	}
}

func TestSinceUntil(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewJSONFileWriter(path, map[string]string{"max-size": "400", "max-file": "20"})
	if err != nil {
		t.Fatal(err)
	}
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
		// Tail first, then since: docker's order.
		{ReadOptions{Tail: 5, Since: at(47)}, 47, 50},
		{ReadOptions{Tail: 5, Since: at(10)}, 45, 50},
		{ReadOptions{Tail: -1, Since: at(60)}, 0, 0},
		// Until ends a follow too.
		{ReadOptions{Tail: -1, Until: at(5), Follow: true}, 0, 6},
	}
	for _, c := range cases {
		msgs, errs := Read(context.Background(), JSONFile, path, c.opts)
		lines, es := collect(t, msgs, errs)
		if len(es) != 0 {
			t.Fatal(es)
		}
		expect(t, lines, "s", c.from, c.to)
	}
}

func TestFollowSeesNewLinesAndRotation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	// The follower starts before the file exists.
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, errs := Read(ctx, JSONFile, path, ReadOptions{Tail: -1, Follow: true, Done: done})
	w, err := NewJSONFileWriter(path, map[string]string{"max-size": "200", "max-file": "100"})
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{t: t, ctx: ctx, msgs: msgs, errs: errs, done: done}
	// One at a time: each entry reaches the follower before the next write.
	for i := range 30 {
		write(t, w, t0, "f", i, 1)
		f.next()
	}
	// Then in bursts that rotate several times between wake-ups.
	write(t, w, t0, "f", 30, 100)
	for range 100 {
		f.next()
	}
	write(t, w, t0, "f", 130, 10)
	w.Close()
	expect(t, f.finish(), "f", 0, 140)
}

func TestFollowMaxFileOne(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewJSONFileWriter(path, map[string]string{"max-size": "300"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, t0, "m", 0, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	msgs, errs := Read(ctx, JSONFile, path, ReadOptions{Tail: 0, Follow: true, Done: done})
	var got []string
	for i := 2; i < 40; i++ {
		write(t, w, t0, "m", i, 1)
		select {
		case m := <-msgs:
			got = append(got, string(m.Line))
		case <-ctx.Done():
			t.Fatalf("timeout after %d", len(got))
		}
	}
	close(done)
	rest, es := collect(t, msgs, errs)
	if len(es) != 0 {
		t.Fatal(es)
	}
	expect(t, append(got, rest...), "m", 2, 40)
}

func TestConcurrentWriterReader(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewJSONFileWriter(path, map[string]string{"max-size": "4k", "max-file": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	write(t, w, t0, "c", 0, 100)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 100; i < n; i++ {
			m := Message{Stream: "stdout", Line: []byte("c-" + strconv.Itoa(i) + "\n"), Time: t0.Add(time.Duration(i) * time.Microsecond)}
			if err := w.WriteMessage(m); err != nil {
				t.Error(err)
				return
			}
		}
		w.Close()
		close(done)
	}()
	// Several readers start while the writer runs: each sees every entry
	// exactly once, in order.
	var readers sync.WaitGroup
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			msgs, errs := Read(context.Background(), JSONFile, path, ReadOptions{Tail: -1, Follow: true, Done: done})
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
	wg.Wait()
	readers.Wait()
}

func TestCorruptLinesAreSkipped(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	var b bytes.Buffer
	for i := range 5 {
		b.Write(appendEntry(nil, Message{Stream: "stdout", Line: []byte(fmt.Sprintf("k-%d\n", i)), Time: t0}, nil))
		switch i {
		case 1:
			b.WriteString("not json at all\n")
		case 2:
			b.WriteString(`{"log":"truncated` + "\n")
		case 3:
			b.WriteString(`{"log":"x\n","stream":"stdout"}` + "\n") // no time
			b.WriteString("\x00\x00\x00\n")
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, follow := range []bool{false, true} {
		done := make(chan struct{})
		close(done)
		msgs, errs := Read(context.Background(), JSONFile, path, ReadOptions{Tail: -1, Follow: follow, Done: done})
		lines, es := collect(t, msgs, errs)
		expect(t, lines, "k", 0, 5)
		if len(es) != 4 {
			t.Fatalf("errors %v, want 4 corrupt entries", es)
		}
		for _, err := range es {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("%v is not a CorruptError", err)
			}
		}
	}
}

func TestNoneDriver(t *testing.T) {
	t.Parallel()
	w, err := NewWriter(None, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(Message{Line: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	msgs, errs := Read(context.Background(), None, "", ReadOptions{Tail: -1})
	lines, es := collect(t, msgs, errs)
	if len(lines) != 0 || len(es) != 1 || !errdefs.IsNotImplemented(es[0]) ||
		es[0].Error() != "configured logging driver does not support reading" {
		t.Fatalf("lines %v errors %v", lines, es)
	}
}

func TestFollowStopsOnContext(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	ctx, cancel := context.WithCancel(context.Background())
	msgs, errs := Read(ctx, JSONFile, path, ReadOptions{Tail: -1, Follow: true})
	cancel()
	if lines, es := collect(t, msgs, errs); len(lines) != 0 || len(es) != 0 {
		t.Fatal(lines, es)
	}
}

func TestFollowEndsAtUntil(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewJSONFileWriter(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := time.Now()
	write(t, w, now.Add(-time.Second), "u", 0, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, errs := Read(ctx, JSONFile, path, ReadOptions{Tail: -1, Follow: true, Until: now.Add(200 * time.Millisecond)})
	lines, es := collect(t, msgs, errs)
	if ctx.Err() != nil || len(es) != 0 {
		t.Fatalf("follow did not end at until: %v %v", ctx.Err(), es)
	}
	expect(t, lines, "u", 0, 2)
}
