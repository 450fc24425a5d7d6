// Command berth-runtime is Berth's OCI runtime, with runc's command line:
// create, start, state, kill, delete, run, exec, list, ps, pause, resume,
// update, features and spec, with runc's global flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
	"golang.org/x/sys/unix"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultRoot = "/run/berth-runtime"

// globals are runc's global flags.
type globals struct {
	root          string
	logPath       string
	logFormat     string
	debug         bool
	systemdCgroup bool
	rootless      string
	criu          string
	log           *slog.Logger
	logFile       *os.File
}

// exitError carries a process exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// The container's init is this binary re-executed; the nsenter
	// constructor has already run by the time we get here.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
	}
	g := &globals{}
	app := newApp(g)
	ctx, cancel := interruptible()
	err := app.execute(ctx, os.Args[1:])
	cancel()
	os.Exit(exitCode(g, err))
}

// interruptible returns a context that SIGINT and SIGTERM cancel, so that
// a command cleans up after itself (a create removes what it made) rather
// than die half done. It is signal.NotifyContext, but set up in the
// background: os/signal starts a thread of its own and hands each signal
// to it (0.1 to 0.3 ms here, more than parsing the command line), and the
// command need not wait for that. A signal that comes before is fatal, as
// one during the Go runtime's start always was. As with NotifyContext
// until the process exits, later signals are caught and dropped.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGINT, unix.SIGTERM)
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// exitCode reports err (to the log too, if there is one) and returns the
// process's exit status.
func exitCode(g *globals, err error) int {
	if g.logFile != nil {
		defer g.logFile.Close()
	}
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if g.log != nil {
		g.log.Error(err.Error())
	}
	fmt.Fprintf(os.Stderr, "berth-runtime: %v\n", err)
	return 1
}

// app is the command line: runc's global flags and commands.
type app struct {
	g        *globals
	global   flagSet
	version  bool
	commands []*command
}

func newApp(g *globals) *app {
	a := &app{g: g}
	f := &a.global
	f.String(&g.root, "root", 0, defaultRoot, "root directory for storage of container state")
	f.String(&g.logPath, "log", 0, "", "log file (default: stderr)")
	f.String(&g.logFormat, "log-format", 0, "text", "log format: text or json")
	f.Bool(&g.debug, "debug", 0, "enable debug logging")
	f.Bool(&g.systemdCgroup, "systemd-cgroup", 0, "use systemd cgroups (not supported)")
	f.String(&g.rootless, "rootless", 0, "auto", "rootless mode: true, false or auto (only false/auto are supported)")
	f.String(&g.criu, "criu", 0, "", "path to criu (checkpoint/restore is not supported)")
	f.list[len(f.list)-1].hidden = true
	a.commands = []*command{
		newCreateCommand(g), newStartCommand(g), newStateCommand(g), newKillCommand(g),
		newDeleteCommand(g), newRunCommand(g), newExecCommand(g), newListCommand(g),
		newPsCommand(g), newEventsCommand(g), newPauseCommand(g), newResumeCommand(g), newUpdateCommand(g),
		newFeaturesCommand(), newSpecCommand(),
	}
	for _, c := range a.commands {
		c.name, _, _ = strings.Cut(c.usage, " ")
	}
	return a
}

// execute runs the command line args (without the program name).
func (a *app) execute(ctx context.Context, args []string) error {
	root := flagSet{list: append([]*flagDef{
		{name: "version", short: 'v', usage: "print the version", value: boolFlag{&a.version}},
	}, a.global.list...)}
	rest, err := parse(args, true, &root)
	if errors.Is(err, errHelp) {
		a.usage(os.Stdout)
		return nil
	}
	if err != nil {
		return err
	}
	if a.version {
		fmt.Printf("berth-runtime version %s\nspec: %s\n", version, specVersion())
		return nil
	}
	if len(rest) == 0 {
		a.usage(os.Stdout)
		return nil
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		if len(rest) > 0 {
			if c := a.lookup(rest[0]); c != nil {
				a.commandUsage(os.Stdout, c)
				return nil
			}
			return fmt.Errorf("unknown help topic %q", rest[0])
		}
		a.usage(os.Stdout)
		return nil
	}
	c := a.lookup(name)
	if c == nil {
		return fmt.Errorf("unknown command %q for \"berth-runtime\"", name)
	}
	cargs, err := parse(rest, c.stopAtArg, &c.flags, &a.global)
	if errors.Is(err, errHelp) {
		a.commandUsage(os.Stdout, c)
		return nil
	}
	if err != nil {
		return err
	}
	if c.args != nil {
		if err := c.args(c, cargs); err != nil {
			return err
		}
	}
	// The log stays open after run: main logs the error run returns.
	if err := a.g.setup(); err != nil {
		return err
	}
	return c.run(ctx, cargs)
}

func (a *app) lookup(name string) *command {
	for _, c := range a.commands {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c
		}
	}
	return nil
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, "Berth's OCI container runtime (runc-compatible)\n\n"+
		"Usage:\n  berth-runtime [global flags] <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range a.commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	var help, version bool
	all := flagSet{list: slices.Clone(a.global.list)}
	all.Bool(&help, "help", 'h', "help for berth-runtime or a command")
	all.Bool(&version, "version", 'v', "print the version")
	fmt.Fprint(w, "\nGlobal flags:\n")
	printFlags(w, &all)
	fmt.Fprint(w, "\nUse \"berth-runtime <command> --help\" for a command's flags.\n")
}

func (a *app) commandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  berth-runtime %s\n", c.short, c.usage)
	if len(c.aliases) > 0 {
		fmt.Fprintf(w, "\nAliases:\n  %s\n", strings.Join(append([]string{c.name}, c.aliases...), ", "))
	}
	if len(c.flags.list) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, &c.flags)
	}
	fmt.Fprint(w, "\nGlobal flags:\n")
	printFlags(w, &a.global)
}

func (g *globals) setup() error {
	if g.systemdCgroup {
		return errors.New("--systemd-cgroup is not supported: Berth manages cgroupfs directly")
	}
	if g.rootless == "true" {
		return errors.New("--rootless=true is not supported yet")
	}
	var w io.Writer = os.Stderr
	if g.logPath != "" {
		f, err := os.OpenFile(g.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		g.logFile, w = f, f
	}
	level := slog.LevelWarn
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lowerLevel}
	switch g.logFormat {
	case "text":
		if g.logPath == "" {
			// Errors reach stderr from main; keep stderr for them.
			g.log = slog.New(slog.NewTextHandler(os.Stderr, opts))
			return nil
		}
		g.log = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		g.log = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return fmt.Errorf("--log-format %q: must be text or json", g.logFormat)
	}
	return nil
}

// lowerLevel writes levels as runc (logrus) does, "error" not "ERROR":
// containerd's runc shim looks for {"level":"error","msg":...} in the log.
func lowerLevel(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
	}
	return a
}

func (g *globals) runtime() (*runtime.Runtime, error) {
	return runtime.New(g.root, g.log)
}

func (g *globals) load(id string) (*runtime.Container, error) {
	rt, err := g.runtime()
	if err != nil {
		return nil, err
	}
	return rt.Load(id)
}
