package main

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type testFlags struct {
	bundle  string
	detach  bool
	tty     bool
	env     []string
	fds     int
	mem     int64
	weight  uint16
	every   time.Duration
	root    string
	debug   bool
	cmdSet  flagSet
	rootSet flagSet
}

func newTestFlags() *testFlags {
	f := &testFlags{}
	c := &f.cmdSet
	c.String(&f.bundle, "bundle", 'b', "", "")
	c.Bool(&f.detach, "detach", 'd', "")
	c.Bool(&f.tty, "tty", 't', "")
	c.StringArray(&f.env, "env", 'e', "")
	intVar(c, &f.fds, "preserve-fds", 0, "")
	intVar(c, &f.mem, "memory", 0, "")
	intVar(c, &f.weight, "blkio-weight", 0, "")
	c.Duration(&f.every, "interval", 5*time.Second, "")
	f.rootSet.String(&f.root, "root", 0, "/run/x", "")
	f.rootSet.Bool(&f.debug, "debug", 0, "")
	return f
}

// TestParse covers what runc's callers send (containerd, the OCI
// validation suite, Berth's shim) and what pflag accepted before.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		stopAtArg bool
		want      []string
		check     func(f *testFlags) bool
	}{
		{[]string{"--bundle", "/b", "--pid-file-not-a-flag"}, false, nil, nil},
		{[]string{"--bundle", "/b", "id"}, false, []string{"id"}, func(f *testFlags) bool { return f.bundle == "/b" }},
		{[]string{"--bundle=/b", "id"}, false, []string{"id"}, func(f *testFlags) bool { return f.bundle == "/b" }},
		{[]string{"-b", "/b", "id"}, false, []string{"id"}, func(f *testFlags) bool { return f.bundle == "/b" }},
		{[]string{"-b/b", "id"}, false, []string{"id"}, func(f *testFlags) bool { return f.bundle == "/b" }},
		{[]string{"-b=/b", "id"}, false, []string{"id"}, func(f *testFlags) bool { return f.bundle == "/b" }},
		{[]string{"id", "--bundle", "/b"}, false, []string{"id"}, func(f *testFlags) bool { return f.bundle == "/b" }},
		{[]string{"-dt", "id"}, false, []string{"id"}, func(f *testFlags) bool { return f.detach && f.tty }},
		{[]string{"-dte", "A=1", "id"}, false, []string{"id"}, func(f *testFlags) bool { return f.detach && f.tty && slices.Equal(f.env, []string{"A=1"}) }},
		{[]string{"--detach=false", "id"}, false, []string{"id"}, func(f *testFlags) bool { return !f.detach && f.cmdSet.Changed("detach") }},
		{[]string{"-d=false", "id"}, false, []string{"id"}, func(f *testFlags) bool { return !f.detach && f.cmdSet.Changed("detach") }},
		{[]string{"-e", "A=1,B=2", "--env=C=3", "id"}, false, []string{"id"}, func(f *testFlags) bool {
			return slices.Equal(f.env, []string{"A=1,B=2", "C=3"})
		}},
		{[]string{"--preserve-fds", "2", "--memory", "-1", "--blkio-weight", "500", "--interval", "2s", "id"}, false, []string{"id"}, func(f *testFlags) bool {
			return f.fds == 2 && f.mem == -1 && f.weight == 500 && f.every == 2*time.Second
		}},
		{[]string{"id"}, false, []string{"id"}, func(f *testFlags) bool {
			return f.every == 5*time.Second && f.root == "/run/x" && !f.cmdSet.Changed("interval") && !f.cmdSet.Changed("nope")
		}},
		// Global flags after the command.
		{[]string{"--root", "/r", "id", "--debug"}, false, []string{"id"}, func(f *testFlags) bool { return f.root == "/r" && f.debug }},
		// "--" and "-" are arguments.
		{[]string{"--", "--bundle", "x"}, false, []string{"--bundle", "x"}, func(f *testFlags) bool { return f.bundle == "" }},
		{[]string{"-", "id"}, false, []string{"-", "id"}, nil},
		// exec: flags end at the first argument.
		{[]string{"-t", "id", "sh", "-c", "--bundle"}, true, []string{"id", "sh", "-c", "--bundle"}, func(f *testFlags) bool { return f.tty && f.bundle == "" }},
	} {
		f := newTestFlags()
		got, err := parse(tc.args, tc.stopAtArg, &f.cmdSet, &f.rootSet)
		if tc.check == nil && tc.want == nil {
			if err == nil {
				t.Errorf("%q: parsed", tc.args)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: arguments %q, want %q", tc.args, got, tc.want)
		}
		if tc.check != nil && !tc.check(f) {
			t.Errorf("%q: flags %+v", tc.args, *f)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "unknown flag: --nope"},
		{[]string{"-x"}, "unknown shorthand flag: 'x' in -x"},
		{[]string{"-dx"}, "unknown shorthand flag: 'x' in -dx"},
		{[]string{"--bundle"}, "flag needs an argument: --bundle"},
		{[]string{"-b"}, "flag needs an argument: -b"},
		{[]string{"--preserve-fds", "two"}, `invalid argument for --preserve-fds: "two" is not a number`},
		{[]string{"--blkio-weight", "70000"}, `invalid argument for --blkio-weight: "70000" is out of range`},
		{[]string{"--detach=maybe"}, `invalid argument for --detach: "maybe" is not a boolean`},
		{[]string{"--interval", "5"}, `invalid argument for --interval: "5" is not a duration`},
	} {
		f := newTestFlags()
		_, err := parse(tc.args, false, &f.cmdSet, &f.rootSet)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
	}
	for _, h := range []string{"-h", "--help"} {
		f := newTestFlags()
		if _, err := parse([]string{"id", h}, false, &f.cmdSet); err != errHelp {
			t.Errorf("%s: %v", h, err)
		}
	}
}

// TestApp runs the command line up to the commands' own work: lookup,
// argument checks, the messages scripts and tests match.
func TestApp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for success
	}{
		{[]string{"--version"}, ""},
		{[]string{"-v"}, ""},
		{[]string{"--help"}, ""},
		{[]string{"help", "exec"}, ""},
		{[]string{"exec", "--help"}, ""},
		{nil, ""},
		{[]string{"bogus"}, `unknown command "bogus" for "berth-runtime"`},
		{[]string{"create"}, `"create" requires exactly 1 argument(s)`},
		{[]string{"kill"}, `"kill" requires 1 or 2 arguments`},
		{[]string{"exec", "id"}, `"exec" requires a command, or --process`},
		{[]string{"--log-format", "xml", "list"}, `--log-format "xml": must be text or json`},
		{[]string{"--systemd-cgroup", "list"}, "--systemd-cgroup is not supported"},
		{[]string{"list", "--criu", "x", "--nope"}, "unknown flag: --nope"},
	} {
		err := newApp(&globals{}).execute(context.Background(), tc.args)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
	}
	// An alias finds its command.
	a := newApp(&globals{})
	if c := a.lookup("ls"); c == nil || c.name != "list" {
		t.Errorf("ls: %+v", c)
	}
}

// TestInterruptible: SIGINT cancels the commands' context, once the
// background registration is done (a signal before that would kill the
// process, so the test holds SIGINT itself as well, and repeats it).
func TestInterruptible(t *testing.T) {
	own := make(chan os.Signal, 16)
	signal.Notify(own, unix.SIGINT)
	defer signal.Stop(own)
	ctx, cancel := interruptible()
	defer cancel()
	deadline := time.After(10 * time.Second)
	for ctx.Err() == nil {
		unix.Kill(os.Getpid(), unix.SIGINT)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("SIGINT did not cancel the context")
		}
	}
}
