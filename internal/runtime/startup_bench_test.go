package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime/nsenter"
)

// The start-up benchmarks time what every container start pays for in the
// runtime binary before it does any work of its own, A/B: on a shared,
// noisy machine only binaries timed in the same run, interleaved, compare.
//
//	BERTH_BENCH_RUNTIMES="old=/tmp/a/berth-runtime new=../../bin/berth-runtime" \
//	    go test ./internal/runtime -run '^$' -bench Startup -benchtime 200x
//
// An entry may add environment for the process: name=path,GOGC=off,....
// Each iteration starts every binary once, in a rotating order, and each
// binary's median is reported as <name>-median-µs, with the CPU time of
// its processes as <name>-cpu-µs (less disturbed by a busy machine than
// the time they took) and their page faults as <name>-faults (on a virtual
// machine a fault costs microseconds; their count is not noisy at all).
// Without the variable the binary is ../../bin/berth-runtime (make
// berth-runtime).

type benchBinary struct {
	name, path string
	env        []string
}

func benchBinaries(b *testing.B) []benchBinary {
	spec := os.Getenv("BERTH_BENCH_RUNTIMES")
	if spec == "" {
		spec = "bin=../../bin/berth-runtime"
	}
	var bins []benchBinary
	for _, f := range strings.Fields(spec) {
		name, path, ok := strings.Cut(f, "=")
		if !ok {
			name, path = filepath.Base(filepath.Dir(f)), f
		}
		path, env, _ := strings.Cut(path, ",")
		if _, err := os.Stat(path); err != nil {
			b.Fatalf("runtime binary %s: %v (run make berth-runtime, or set BERTH_BENCH_RUNTIMES)", path, err)
		}
		bin := benchBinary{name: name, path: path}
		if env != "" {
			bin.env = strings.Split(env, ",")
		}
		bins = append(bins, bin)
	}
	return bins
}

// startup is one start's cost: its time, and the CPU time and minor page
// faults of the processes it ran.
type startup struct {
	d, cpu time.Duration
	faults int64
}

func (s *startup) add(ru *unix.Rusage) {
	s.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.faults += ru.Minflt
}

// interleave runs one start of every binary per iteration and reports each
// one's medians.
func interleave(b *testing.B, run func(b *testing.B, bin benchBinary) startup) {
	bins := benchBinaries(b)
	times := make([][]time.Duration, len(bins))
	cpu := make([][]time.Duration, len(bins))
	faults := make([][]int64, len(bins))
	for i := 0; b.Loop(); i++ {
		for j := range bins {
			k := (i + j) % len(bins)
			s := run(b, bins[k])
			times[k] = append(times[k], s.d)
			cpu[k] = append(cpu[k], s.cpu)
			faults[k] = append(faults[k], s.faults)
		}
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Nanoseconds()) / 1e3
	}
	for k, bin := range bins {
		slices.Sort(faults[k])
		b.ReportMetric(median(times[k]), bin.name+"-median-µs")
		b.ReportMetric(median(cpu[k]), bin.name+"-cpu-µs")
		b.ReportMetric(float64(faults[k][len(faults[k])/2]), bin.name+"-faults")
	}
}

// BenchmarkInitStartup times a container init's start up to the Go side's
// first word: exec of the binary as "init", the nsenter stage (no
// namespaces asked, so no privilege needed) and its clone of the init, the
// Go runtime's start and every package initializer in the binary, then
// Init reading its config: the default spec's, as a container's init gets
// it, but for its mode, which Init does not know, so it answers at once
// with an error.
func BenchmarkInitStartup(b *testing.B) {
	interleave(b, func(b *testing.B, bin benchBinary) startup {
		s, err := initStartup(bin)
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

func initStartup(bin benchBinary) (s startup, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return s, err
	}
	parent := os.NewFile(uintptr(fds[0]), "sync-parent")
	defer parent.Close()
	child := os.NewFile(uintptr(fds[1]), "sync-child")
	start := time.Now()
	stagePid, err := syscall.ForkExec(bin.path, []string{"berth-runtime", "init"}, &syscall.ProcAttr{
		Env:   append([]string{nsenter.EnvInitPipe + "=3", "GOMAXPROCS=1"}, bin.env...),
		Files: []uintptr{devNull(), devNull(), os.Stderr.Fd(), child.Fd()},
	})
	child.Close()
	if err != nil {
		return s, err
	}
	initPid, err := nsenter.NewStage(parent, nil).Run(nsenter.Bootstrap{})
	_, ru := reap(stagePid)
	s.add(ru)
	if err != nil {
		return s, err
	}
	defer func() {
		_, ru := reap(initPid)
		s.add(ru)
	}()
	cfg := containerInitConfig(DefaultSpec(false))
	cfg.Mode = "startup-probe"
	if err := writeFrame(parent, &syncMsg{Type: msgConfig, Config: cfg.encode()}); err != nil {
		return s, err
	}
	m, err := readFrame(parent)
	s.d = time.Since(start)
	if err != nil {
		return s, err
	}
	if m.Type != msgError || !strings.Contains(m.Error, "startup-probe") {
		return s, fmt.Errorf("init answered %+v", m)
	}
	return s, nil
}

// BenchmarkVersionStartup times `berth-runtime --version`, exec to exit:
// the start-up every command-line use of the runtime pays.
func BenchmarkVersionStartup(b *testing.B) {
	interleave(b, func(b *testing.B, bin benchBinary) startup {
		start := time.Now()
		pid, err := syscall.ForkExec(bin.path, []string{"berth-runtime", "--version"}, &syscall.ProcAttr{
			Env:   bin.env,
			Files: []uintptr{devNull(), devNull(), os.Stderr.Fd()},
		})
		if err != nil {
			b.Fatal(err)
		}
		ws, ru := reap(pid)
		if !ws.Exited() || ws.ExitStatus() != 0 {
			b.Fatalf("--version: %v", ws)
		}
		s := startup{d: time.Since(start)}
		s.add(ru)
		return s
	})
}

var nullFile *os.File

func devNull() uintptr {
	if nullFile == nil {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			panic(err)
		}
		nullFile = f
	}
	return nullFile.Fd()
}

// reap waits for pid and returns its status and resource usage.
func reap(pid int) (unix.WaitStatus, *unix.Rusage) {
	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		_, err := unix.Wait4(pid, &ws, 0, &ru)
		if err != unix.EINTR {
			return ws, &ru
		}
	}
}
