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
// Each iteration starts every binary once, in a rotating order, and each
// binary's median is reported as <name>-median-µs. Without the variable
// the binary is ../../bin/berth-runtime (make berth-runtime).

type benchBinary struct{ name, path string }

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
		if _, err := os.Stat(path); err != nil {
			b.Fatalf("runtime binary %s: %v (run make berth-runtime, or set BERTH_BENCH_RUNTIMES)", path, err)
		}
		bins = append(bins, benchBinary{name, path})
	}
	return bins
}

// interleave runs one start of every binary per iteration and reports each
// one's median.
func interleave(b *testing.B, run func(b *testing.B, path string) time.Duration) {
	bins := benchBinaries(b)
	times := make([][]time.Duration, len(bins))
	for i := 0; b.Loop(); i++ {
		for j := range bins {
			k := (i + j) % len(bins)
			times[k] = append(times[k], run(b, bins[k].path))
		}
	}
	for k, bin := range bins {
		slices.Sort(times[k])
		b.ReportMetric(float64(times[k][len(times[k])/2].Nanoseconds())/1e3, bin.name+"-median-µs")
	}
}

// BenchmarkInitStartup times a container init's start up to the Go side's
// first word: exec of the binary as "init", the nsenter stage (no
// namespaces asked, so no privilege needed) and its clone of the init, the
// Go runtime's start and every package initializer in the binary, then
// Init reading its config, which here names no mode, so it answers at once
// with an error.
func BenchmarkInitStartup(b *testing.B) {
	interleave(b, func(b *testing.B, path string) time.Duration {
		d, err := initStartup(path)
		if err != nil {
			b.Fatal(err)
		}
		return d
	})
}

func initStartup(path string) (time.Duration, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	parent := os.NewFile(uintptr(fds[0]), "sync-parent")
	defer parent.Close()
	child := os.NewFile(uintptr(fds[1]), "sync-child")
	start := time.Now()
	stagePid, err := syscall.ForkExec(path, []string{"berth-runtime", "init"}, &syscall.ProcAttr{
		Env:   []string{nsenter.EnvInitPipe + "=3", "GOMAXPROCS=1"},
		Files: []uintptr{devNull(), devNull(), os.Stderr.Fd(), child.Fd()},
	})
	child.Close()
	if err != nil {
		return 0, err
	}
	initPid, err := nsenter.NewStage(parent, nil).Run(nsenter.Bootstrap{})
	reap(stagePid)
	if err != nil {
		return 0, err
	}
	defer reap(initPid)
	if err := writeFrame(parent, &syncMsg{Type: msgConfig, Init: &initConfig{Mode: "startup-probe"}}); err != nil {
		return 0, err
	}
	m, err := readFrame(parent)
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if m.Type != msgError || !strings.Contains(m.Error, "startup-probe") {
		return 0, fmt.Errorf("init answered %+v", m)
	}
	return d, nil
}

// BenchmarkVersionStartup times `berth-runtime --version`, exec to exit:
// the start-up every command-line use of the runtime pays.
func BenchmarkVersionStartup(b *testing.B) {
	interleave(b, func(b *testing.B, path string) time.Duration {
		start := time.Now()
		pid, err := syscall.ForkExec(path, []string{"berth-runtime", "--version"}, &syscall.ProcAttr{
			Files: []uintptr{devNull(), devNull(), os.Stderr.Fd()},
		})
		if err != nil {
			b.Fatal(err)
		}
		if ws := reap(pid); !ws.Exited() || ws.ExitStatus() != 0 {
			b.Fatalf("--version: %v", ws)
		}
		return time.Since(start)
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

func reap(pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return ws
		}
	}
}
