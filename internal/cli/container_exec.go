package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	sdk "github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

type execOptions struct {
	detachKeys         string
	interactive, tty   bool
	detach, privileged bool
	user, workdir      string
	env, envFile       *opts.List
}

func newExecCommand(a *app) *cobra.Command {
	o := execOptions{env: opts.NewList(opts.ValidateEnv), envFile: opts.NewList(nil)}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), a, o, args[0], args[1:])
		},
		Annotations:           map[string]string{"aliases": "berth container exec, berth exec"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	f.StringVarP(&o.user, "user", "u", "", `Username or UID (format: "<name|uid>[:<group|gid>]")`)
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	f.VarP(o.env, "env", "e", "Set environment variables")
	f.Var(o.envFile, "env-file", "Read in a file of environment variables")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

// runExec runs a process in the container and ends with its exit status.
func runExec(ctx context.Context, a *app, o execOptions, name string, command []string) error {
	env, err := opts.ReadKVFiles(o.envFile.Values(), o.env.Values(), os.LookupEnv)
	if err != nil {
		return err
	}
	create := sdk.ExecCreateOptions{
		User: o.user, Privileged: o.privileged, TTY: o.tty, Cmd: command, WorkingDir: o.workdir, Env: env,
		DetachKeys: o.detachKeys,
	}
	if create.DetachKeys == "" {
		create.DetachKeys = a.config().DetachKeys
	}
	if o.detachKeys != "" {
		if _, err := term.ToBytes(o.detachKeys); err != nil {
			return fmt.Errorf("invalid detach keys (%s) provided: %w", o.detachKeys, err)
		}
	}
	if !o.detach {
		create.AttachStdout, create.AttachStderr, create.AttachStdin = true, true, o.interactive
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	if _, err := c.ContainerInspect(ctx, name, sdk.ContainerInspectOptions{}); err != nil {
		return err
	}
	if !o.detach && create.AttachStdin && create.TTY && !isTerminal(a.streams.In) {
		return errors.New("the input device is not a TTY")
	}
	if create.TTY {
		h, w := terminalSize(a.streams.Out)
		create.ConsoleSize = sdk.ConsoleSize{Height: h, Width: w}
	}
	res, err := c.ExecCreate(ctx, name, create)
	if err != nil {
		return err
	}
	if res.ID == "" {
		return errors.New("exec ID empty")
	}
	if o.detach {
		_, err := c.ExecStart(ctx, res.ID, sdk.ExecStartOptions{Detach: true, TTY: create.TTY, ConsoleSize: create.ConsoleSize})
		return err
	}
	resp, err := c.ExecAttach(ctx, res.ID, sdk.ExecAttachOptions{TTY: create.TTY, ConsoleSize: create.ConsoleSize})
	if err != nil {
		return err
	}
	defer resp.Close()
	errc := a.copyHijacked(ctx, resp.HijackedResponse, create.TTY, create.AttachStdin, true, true, create.DetachKeys)
	if create.TTY && isTerminal(a.streams.In) {
		a.monitorTTYSize(ctx, func(ctx context.Context, h, w uint) error {
			_, err := c.ExecResize(ctx, res.ID, sdk.ExecResizeOptions{Height: h, Width: w})
			return err
		})
	}
	if err := <-errc; err != nil {
		return err
	}
	st, err := c.ExecInspect(ctx, res.ID, sdk.ExecInspectOptions{})
	if err != nil {
		if sdk.IsErrConnectionFailed(err) {
			return StatusError{Code: -1}
		}
		return err
	}
	if st.ExitCode != 0 {
		return StatusError{Code: st.ExitCode}
	}
	return nil
}
