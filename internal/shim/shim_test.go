package shim

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/logs"
)

func TestParseStatsRunc(t *testing.T) {
	line := `{"type":"stats","id":"x","data":{"cpu":{"usage":{"total":11105652,"percpu":[1915707,9189945],"kernel":10000000,"user":0},"throttling":{}},"memory":{"usage":{"limit":99999744,"usage":741376,"max":2252800,"failcnt":0},"swap":{"limit":9223372036854771712,"usage":741376},"raw":{"total_inactive_file":5}},"pids":{"current":1,"limit":100},"blkio":{"ioServiceBytesRecursive":[{"major":254,"op":"Read","value":4096}]},"hugetlb":{"2MB":{"failcnt":0}},"intel_rdt":{},"network_interfaces":null}}`
	s, err := parseStats([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Usage.Total != 11105652 || len(s.CPU.Usage.Percpu) != 2 || s.Memory.Usage.Limit != 99999744 ||
		s.Memory.Raw["total_inactive_file"] != 5 || s.Pids.Limit != 100 || s.Blkio.IoServiceBytesRecursive[0].Value != 4096 {
		t.Fatalf("%+v", s)
	}
}

func TestParseStatsBerth(t *testing.T) {
	line := `{"type":"stats","id":"bst","data":{"Memory":{"Usage":1236992,"MaxUsage":2072576,"Limit":99999744,"Failcnt":0,"SwapUsage":4096,"Cache":659456,"RSS":53248,"Stat":{"total_inactive_file":139264}},"CPU":{"Usage":4000000,"User":4000000,"System":0,"PerCPU":[4000000,0]},"Pids":{"Current":1,"Limit":100},"BlockIO":{"Devices":[{"Major":254,"Minor":0,"ReadBytes":659456,"ReadOps":35}]},"Hugetlb":{"2MB":{"Usage":0,"Limit":18446744073709551615}}}}`
	s, err := parseStats([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Usage != 1236992 || s.Memory.Usage.Max != 2072576 || s.Memory.Swap.Usage != 1236992+4096 ||
		s.Memory.Cache != 659456 || s.Memory.Raw["total_inactive_file"] != 139264 {
		t.Fatalf("memory %+v", s.Memory)
	}
	if s.CPU.Usage.Total != 4000000 || s.CPU.Usage.User != 4000000 || len(s.CPU.Usage.Percpu) != 2 {
		t.Fatalf("cpu %+v", s.CPU)
	}
	if s.Pids != (Pids{Current: 1, Limit: 100}) {
		t.Fatalf("pids %+v", s.Pids)
	}
	var read uint64
	for _, e := range s.Blkio.IoServiceBytesRecursive {
		if e.Op == "Read" && e.Major == 254 {
			read = e.Value
		}
	}
	if read != 659456 {
		t.Fatalf("blkio %+v", s.Blkio)
	}
	for _, bad := range []string{``, `{}`, `{"type":"oom"}`, `not json`} {
		if _, err := parseStats([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestErrorClassesCrossTheWire(t *testing.T) {
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrInvalidParameter, errdefs.ErrNotImplemented} {
		err := errdefs.Errorf(class, "exec %s already exists", "e1")
		r := errorResponse(err)
		back := r.err()
		if !errors.Is(back, class) || back.Error() != err.Error() {
			t.Errorf("%v came back as %v", err, back)
		}
	}
	pr := errorResponse(errors.New("runtime start: boom"))
	plain := pr.err()
	if plain.Error() != "runtime start: boom" || errdefs.IsNotFound(plain) {
		t.Errorf("plain error came back as %v", plain)
	}
}

// recorder is a logs.Writer that keeps what it is given.
type recorder struct{ msgs []logs.Message }

func (r *recorder) WriteMessage(m logs.Message) error {
	m.Line = append([]byte(nil), m.Line...)
	r.msgs = append(r.msgs, m)
	return nil
}
func (r *recorder) Close() error { return nil }

func TestLogSplitting(t *testing.T) {
	long := strings.Repeat("x", maxLogLine)
	cases := []struct {
		name   string
		chunks []string
		want   []string // "P:" marks a partial entry
	}{
		{"lines", []string{"a\nb\n"}, []string{"a\n", "b\n"}},
		{"line across reads", []string{"ab", "c\nd", "e\n"}, []string{"abc\n", "de\n"}},
		{"unterminated at end", []string{"a\nrest"}, []string{"a\n", "P:rest"}},
		// dockerd's copier logs the 16 KiB that fill its buffer as a
		// partial message, then the newline alone.
		{"exactly 16 KiB and newline", []string{long + "\n"}, []string{"P:" + long, "\n"}},
		{"one under 16 KiB and newline", []string{long[1:] + "\n"}, []string{long[1:] + "\n"}},
		{"16 KiB plus one", []string{long + "y\n"}, []string{"P:" + long, "y\n"}},
		{"long across reads", []string{long[:100], long[100:] + "zz", "\n"}, []string{"P:" + long, "zz\n"}},
		{"two full pieces", []string{long + long + "\n"}, []string{"P:" + long, "P:" + long, "\n"}},
		{"two pieces and a bit", []string{long + long + "z\n"}, []string{"P:" + long, "P:" + long, "z\n"}},
		{"crlf from a tty", []string{"hi\r\n"}, []string{"hi\r\n"}},
	}
	for _, c := range cases {
		rec := &recorder{}
		p := &process{s: &shim{}, log: rec, streams: 1, outputEnd: make(chan struct{}), stdinReady: make(chan struct{})}
		for _, ch := range c.chunks {
			p.logOutput(0, []byte(ch), time.Now())
		}
		p.streamEnded(0)
		var got []string
		for _, m := range rec.msgs {
			s := string(m.Line)
			if m.Partial {
				s = "P:" + s
			}
			if m.Stream != "stdout" {
				t.Errorf("%s: stream %q", c.name, m.Stream)
			}
			got = append(got, s)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: got %q, want %q", c.name, short(got), short(c.want))
		}
	}
}

func short(s []string) []string {
	var out []string
	for _, x := range s {
		if len(x) > 20 {
			x = fmt.Sprintf("%s...%s (%d bytes)", x[:4], x[len(x)-4:], len(x))
		}
		out = append(out, x)
	}
	return out
}

// The output path allocates nothing: the shim does not collect garbage by
// itself, so a chatty container must not make any.
func TestOutputAllocatesNothing(t *testing.T) {
	w, err := logs.NewJSONFileWriter(t.TempDir()+"/c.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := &process{s: &shim{}, log: w, streams: 1, outputEnd: make(chan struct{}), stdinReady: make(chan struct{})}
	chunk := []byte(strings.Repeat("some output\n", 100) + "and a partial line")
	p.output(0, chunk) // warm the buffers
	// AllocsPerRun counts the whole process's allocations (the test's
	// orphan reaper runs beside): the best of a few runs is the path's.
	best := 1e9
	for range 5 {
		best = min(best, testing.AllocsPerRun(100, func() { p.output(0, chunk) }))
	}
	if best != 0 {
		t.Fatalf("%v allocations per chunk", best)
	}
}
