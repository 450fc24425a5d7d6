// Command berthd is Berth's daemon: it serves the Docker Engine API on
// every -H address until SIGTERM or SIGINT, then stops serving and closes
// the engine (leaving containers to their shims with live restore, the
// default; stopping them without).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/daemon"
	"github.com/berth-project/berth/internal/daemon/config"
	"github.com/berth-project/berth/internal/gomaxprocs"
)

func main() {
	// What berthd inherited beyond stdio (a socket systemd passed, a
	// descriptor its starter leaked) is its own: no shim or container
	// started from it gets a copy. A stray one high up also made every
	// shim's descriptor table, copied from berthd's, as large.
	_ = unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := config.AddFlags(fs)
	showVersion := fs.BoolP("version", "v", false, "Print version information and quit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: berthd [OPTIONS]\n\nA self-sufficient runtime for containers, speaking the Docker Engine API.\n\nOptions:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 125
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "berthd: takes no arguments, got %q\n", fs.Args())
		return 125
	}
	if *showVersion {
		fmt.Fprintf(stderr, "Berth version %s\n", daemon.Version)
		return 0
	}
	cfg, warnings, err := flags.Resolve()
	if err != nil {
		fmt.Fprintf(stderr, "berthd: %v\n", err)
		return 1
	}
	log := newLogger(stderr, cfg.LogLevel)
	slog.SetDefault(log)
	for _, w := range warnings {
		log.Warn(w)
	}
	log.Debug("configuration", "file", cfg.ConfigFile, "hosts", cfg.EffectiveHosts(), "storage-driver", cfg.StorageDriver,
		"default-runtime", cfg.DefaultRuntime, "cgroup-parent", cfg.EffectiveCgroupParent(), "log-driver", cfg.LogDriver,
		"bridge", cfg.Bridge, "bip", cfg.BIP, "iptables", cfg.IPTables, "mtu", cfg.MTU, "dns", cfg.DNS)
	if err := serve(cfg, log); err != nil {
		log.Error("berthd failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error", "fatal":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// serve runs the daemon until a signal: pid file, engine, one listener
// per host, then the orderly shutdown in reverse.
func serve(cfg config.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cfg.Pidfile != "" {
		release, err := writePidfile(cfg.Pidfile)
		if err != nil {
			return err
		}
		defer release()
	}
	d, err := daemon.New(ctx, cfg, daemon.WithLogger(log))
	if err != nil {
		return err
	}
	defer func() {
		if err := d.Close(); err != nil {
			log.Warn("closing the engine", "err", err)
		}
	}()
	listeners, err := listenAll(cfg, log)
	if err != nil {
		return err
	}
	// Start-up (restore, checks) ran on every CPU; serving runs narrow.
	width := gomaxprocs.Narrow(goruntime.NumCPU())
	log.Debug("scheduler", "GOMAXPROCS", goruntime.GOMAXPROCS(0), "managed", width != nil)
	srv := server.New(d, server.WithLogger(log), server.WithServerHeader("Berth/"+daemon.Version+" (linux)"),
		server.WithCPUWidening(width.Widen))
	errs := make(chan error, len(listeners))
	var wg sync.WaitGroup
	trim := newIdleTrim(trimAfter, debug.FreeOSMemory)
	for _, l := range listeners {
		l := trim.listener(l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("API listening", "addr", l.Addr().String())
			if err := srv.Serve(ctx, l); err != nil {
				errs <- fmt.Errorf("serve %s: %w", l.Addr(), err)
			}
		}()
	}
	log.Info("berthd started", "version", daemon.Version, "data-root", cfg.DataRoot, "exec-root", cfg.ExecRoot, "live-restore", cfg.LiveRestore)
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-errs:
		stop()
	}
	wg.Wait()
	for _, l := range listeners {
		_ = l.Close()
	}
	removeSockets(cfg)
	return serveErr
}
