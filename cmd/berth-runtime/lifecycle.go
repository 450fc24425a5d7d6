package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/berth-project/berth/internal/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func specVersion() string { return specs.Version }

// createFlags are shared by create and run.
type createFlags struct {
	bundle        string
	consoleSocket string
	pidFile       string
	noPivot       bool
	noNewKeyring  bool
	preserveFDs   int
}

func (f *createFlags) register(cmd *command) {
	fl := &cmd.flags
	fl.String(&f.bundle, "bundle", 'b', "", "path to the root of the bundle directory (default: current directory)")
	fl.String(&f.consoleSocket, "console-socket", 0, "", "path to a unix socket that receives the pty master")
	fl.String(&f.pidFile, "pid-file", 0, "", "file to write the container init's pid to")
	fl.Bool(&f.noPivot, "no-pivot", 0, "do not use pivot_root (for a rootfs on ramfs)")
	fl.Bool(&f.noNewKeyring, "no-new-keyring", 0, "accepted for runc compatibility; Berth does not create session keyrings")
	intVar(fl, &f.preserveFDs, "preserve-fds", 0, "pass this many extra fds (from 3) to the container")
}

func (f *createFlags) opts() runtime.CreateOpts {
	return runtime.CreateOpts{
		ConsoleSocket: f.consoleSocket, PidFile: f.pidFile, NoPivot: f.noPivot, PreserveFDs: f.preserveFDs,
	}
}

func newCreateCommand(g *globals) *command {
	var f createFlags
	cmd := &command{
		usage: "create [flags] <container-id>",
		short: "create a container, ready to start",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			_, err = rt.Create(ctx, args[0], f.bundle, f.opts())
			return err
		},
	}
	f.register(cmd)
	return cmd
}

func newStartCommand(g *globals) *command {
	return &command{
		usage: "start <container-id>",
		short: "run the process of a created container",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Start(ctx)
		},
	}
}

func newStateCommand(g *globals) *command {
	return &command{
		usage: "state <container-id>",
		short: "print the state of a container as JSON",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(c.State())
		},
	}
}

func newDeleteCommand(g *globals) *command {
	var force bool
	cmd := &command{
		usage: "delete [--force] <container-id>",
		short: "delete a stopped container (any container with --force)",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Delete(ctx, force)
		},
	}
	cmd.flags.Bool(&force, "force", 'f', "kill the container first if it is running")
	return cmd
}

func newPauseCommand(g *globals) *command {
	return &command{
		usage: "pause <container-id>",
		short: "freeze every process of a container",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Pause()
		},
	}
}

func newResumeCommand(g *globals) *command {
	return &command{
		usage: "resume <container-id>",
		short: "thaw a paused container",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Resume()
		},
	}
}
