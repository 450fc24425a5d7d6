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
	"strings"

	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
	"github.com/spf13/cobra"
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

// exitError carries a process exit status through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// The container's init is this binary re-executed; the nsenter
	// constructor has already run by the time we get here.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
	}
	if len(os.Args) > 1 && os.Args[1] == "warm" {
		os.Args = warmCommand(os.Args)
	}
	g := &globals{}
	root := newRootCommand(g)
	ctx, cancel := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
	err := root.ExecuteContext(ctx)
	cancel()
	if err == nil {
		os.Exit(0)
	}
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	if g.log != nil {
		g.log.Error(err.Error())
	}
	fmt.Fprintf(os.Stderr, "berth-runtime: %v\n", err)
	os.Exit(1)
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth-runtime",
		Short:         "Berth's OCI container runtime (runc-compatible)",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.setup()
		},
		PersistentPostRun: func(cmd *cobra.Command, args []string) {
			if g.logFile != nil {
				g.logFile.Close()
			}
		},
	}
	root.SetVersionTemplate("berth-runtime version {{.Version}}\nspec: " + specVersion() + "\n")
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", defaultRoot, "root directory for storage of container state")
	f.StringVar(&g.logPath, "log", "", "log file (default: stderr)")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.debug, "debug", false, "enable debug logging")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "use systemd cgroups (not supported)")
	f.StringVar(&g.rootless, "rootless", "auto", "rootless mode: true, false or auto (only false/auto are supported)")
	f.StringVar(&g.criu, "criu", "", "path to criu (checkpoint/restore is not supported)")
	f.MarkHidden("criu")
	root.AddCommand(
		newCreateCommand(g), newStartCommand(g), newStateCommand(g), newKillCommand(g),
		newDeleteCommand(g), newRunCommand(g), newExecCommand(g), newListCommand(g),
		newPsCommand(g), newEventsCommand(g), newPauseCommand(g), newResumeCommand(g), newUpdateCommand(g),
		newFeaturesCommand(), newSpecCommand(),
	)
	return root
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

// exactArgs is cobra.ExactArgs with runc's message.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s)", cmd.Name(), n)
		}
		return nil
	}
}
