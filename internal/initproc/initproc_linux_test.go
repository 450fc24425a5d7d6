package initproc

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/initenv"
	"github.com/berth-project/berth/internal/testenv"
)

// The test binary doubles as berth-init: started with this variable set, it
// runs Run instead of the tests, so each test can make it pid 1 of a new pid
// namespace.
const asInitEnv = "BERTH_INITPROC_TEST_AS_INIT"

func TestMain(m *testing.M) {
	if os.Getenv(asInitEnv) == "1" {
		os.Exit(Run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// initCommand returns the test binary as an init running args; as pid 1 of
// a new pid namespace when newPidNS.
func initCommand(t *testing.T, newPidNS bool, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asInitEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if newPidNS {
		testenv.RequireRoot(t)
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
	}
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("run: %v", err)
	}
	return ee.ExitCode()
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"zero", []string{"--", "/bin/sh", "-c", "exit 0"}, 0},
		{"code", []string{"--", "/bin/sh", "-c", "exit 7"}, 7},
		{"no dashes", []string{"/bin/sh", "-c", "exit 3"}, 3},
		{"killed", []string{"--", "/bin/sh", "-c", "kill -KILL $$"}, 128 + 9},
		{"terminated", []string{"--", "/bin/sh", "-c", "kill -TERM $$"}, 128 + 15},
		{"path lookup", []string{"--", "sh", "-c", "exit 5"}, 5},
		{"not found", []string{"--", "no-such-command-berth"}, 127},
		{"not found absolute", []string{"--", "/no/such/command"}, 127},
		{"usage", []string{"--"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, pid1 := range []bool{false, true} {
				cmd := initCommand(t, pid1, tc.args...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if got := exitCode(t, cmd.Run()); got != tc.want {
					t.Errorf("pid1=%v: exit code %d, want %d (stderr %q)", pid1, got, tc.want, stderr.String())
				}
			}
		})
	}
}

// TestSignalsForwarded: SIGTERM and SIGUSR1 sent to the init reach the
// command, which exits by its own trap.
func TestSignalsForwarded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGTERM, "TERM", 42},
		{syscall.SIGUSR1, "USR1", 43},
		{syscall.SIGHUP, "HUP", 44},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			script := "trap 'echo got " + tc.name + "; exit " + strconv.Itoa(tc.code) + "' " + tc.name +
				"; echo ready; while :; do sleep 0.05; done"
			cmd := initCommand(t, true, "--", "/bin/sh", "-c", script)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			r := bufio.NewReader(out)
			if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			line, _ := r.ReadString('\n')
			if got := exitCode(t, cmd.Wait()); got != tc.code {
				t.Errorf("exit code %d, want %d", got, tc.code)
			}
			if line != "got "+tc.name+"\n" {
				t.Errorf("output %q, want the trap's", line)
			}
		})
	}
}

// TestSignalKillsCommand: a forwarded signal the command does not handle
// kills it, and the init reports 128+N.
func TestSignalKillsCommand(t *testing.T) {
	t.Parallel()
	cmd := initCommand(t, true, "--", "/bin/sh", "-c", "echo ready; exec sleep 30")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	// exec sleep may not have happened yet: the shell ignores nothing, so
	// TERM kills either.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := exitCode(t, cmd.Wait()); got != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d", got, 128+int(syscall.SIGTERM))
	}
}

// TestZombiesReaped: the command orphans children that exit; they become
// the init's children (pid 1, or a subreaper) and must not stay zombies.
func TestZombiesReaped(t *testing.T) {
	t.Parallel()
	for _, pid1 := range []bool{true, false} {
		t.Run("pid1="+strconv.FormatBool(pid1), func(t *testing.T) {
			t.Parallel()
			// Each ( ... &) subshell exits at once, orphaning its sleep,
			// which exits 50ms later. The long sleep keeps the command
			// alive while the test looks.
			script := "for i in 1 2 3 4 5 6; do (sleep 0.05 &); done; echo ready; exec sleep 30"
			cmd := initCommand(t, pid1, "--", "/bin/sh", "-c", script)
			startUntilReady(t, cmd)
			// Give the orphans time to exit and be reaped.
			deadline := time.Now().Add(5 * time.Second)
			for {
				zombies, children := childrenOf(t, cmd.Process.Pid)
				if zombies == 0 && children == 1 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 5s the init has %d children, %d of them zombies; want only the command", children, zombies)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// childrenOf counts the processes whose parent is pid, and the zombies
// among them, from the host's /proc.
func childrenOf(t *testing.T, pid int) (zombies, children int) {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			children++
			if f[0] == "Z" {
				zombies++
			}
		}
	}
	return zombies, children
}

// TestThreads: started as the engine starts it (GOMAXPROCS=1 in its
// environment), the init runs on no more than threadFloor threads while it
// supervises, every one of them counted against --pids-limit.
func TestThreads(t *testing.T) {
	t.Parallel()
	for _, pid1 := range []bool{true, false} {
		t.Run("pid1="+strconv.FormatBool(pid1), func(t *testing.T) {
			t.Parallel()
			cmd := initCommand(t, pid1, "--", "/bin/sh", "-c", "echo ready; exec sleep 30")
			cmd.Env = append(initenv.ForInit(os.Environ()), asInitEnv+"=1")
			startUntilReady(t, cmd)
			// The init may still be ending its spare threads when the
			// command speaks.
			var n int
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
				if err != nil {
					t.Fatal(err)
				}
				if n = parseThreads(b); n > 0 && n <= threadFloor {
					return
				}
			}
			t.Errorf("the init has %d threads, want 1 to %d", n, threadFloor)
		})
	}
}

// TestCommandEnv: the command gets the user's environment back, without
// what the engine set for the init alone.
func TestCommandEnv(t *testing.T) {
	t.Parallel()
	for _, user := range []string{"", "GOMAXPROCS=3"} {
		env := slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "GOMAXPROCS=") })
		want := "unset"
		if user != "" {
			env, want = append(env, user), "3"
		}
		cmd := initCommand(t, false, "--", "/bin/sh", "-c", `echo "${GOMAXPROCS-unset}${BERTH_INIT_GOMAXPROCS+ marker}"`)
		cmd.Env = append(initenv.ForInit(env), asInitEnv+"=1")
		got, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(got)) != want {
			t.Errorf("user env %q: the command saw %q, want %q", user, got, want)
		}
	}
}

func TestParseThreads(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"Name:\tx\nThreads:\t12\nSigQ:\t0/1\n": 12,
		"Name:\tx\nThreads:\t5":                5,
		"Name:\tx\n":                           0,
	} {
		if got := parseThreads([]byte(in)); got != want {
			t.Errorf("parseThreads(%q) = %d, want %d", in, got, want)
		}
	}
}

// startUntilReady starts cmd, whose command prints "ready" first, and
// waits for that line; the test's end stops it.
func startUntilReady(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
}
