package main

import (
	"encoding/json"
	"os"

	"github.com/berth-project/berth/internal/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
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

func (f *createFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", "", "path to the root of the bundle directory (default: current directory)")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "path to a unix socket that receives the pty master")
	fl.StringVar(&f.pidFile, "pid-file", "", "file to write the container init's pid to")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "do not use pivot_root (for a rootfs on ramfs)")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility; Berth does not create session keyrings")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass this many extra fds (from 3) to the container")
}

func (f *createFlags) opts() runtime.CreateOpts {
	return runtime.CreateOpts{
		ConsoleSocket: f.consoleSocket, PidFile: f.pidFile, NoPivot: f.noPivot, PreserveFDs: f.preserveFDs,
	}
}

func newCreateCommand(g *globals) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "create a container, ready to start",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			_, err = rt.Create(cmd.Context(), args[0], f.bundle, f.opts())
			return err
		},
	}
	f.register(cmd)
	return cmd
}

func newStartCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "run the process of a created container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Start(cmd.Context())
		},
	}
}

func newStateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "state <container-id>",
		Short: "print the state of a container as JSON",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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

func newDeleteCommand(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [--force] <container-id>",
		Short: "delete a stopped container (any container with --force)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Delete(cmd.Context(), force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it is running")
	return cmd
}

func newPauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause <container-id>",
		Short: "freeze every process of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Pause()
		},
	}
}

func newResumeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume <container-id>",
		Short: "thaw a paused container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Resume()
		},
	}
}
