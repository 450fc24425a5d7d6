package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func newRunCommand(g *globals) *cobra.Command {
	var f createFlags
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "create and start a container, and wait for it unless detached",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			spec, err := loadBundleSpec(f.bundle)
			if err != nil {
				return err
			}
			opts := f.opts()
			opts.Spec = spec
			var tty *terminal
			if spec.Process != nil && spec.Process.Terminal && f.consoleSocket == "" {
				if detach {
					return errors.New("cannot allocate a terminal for a detached container without --console-socket")
				}
				if tty, err = newTerminal(); err != nil {
					return err
				}
				defer tty.close()
				opts.Console = tty.child
			}
			if !detach {
				// Orphans of a container without a pid namespace are
				// reparented to us, and reaped.
				unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
			}
			// One handshake: the init goes from created to running
			// without waiting for a separate start.
			opts.StartNow = true
			c, err := rt.Create(ctx, args[0], f.bundle, opts)
			if err != nil {
				if c != nil {
					c.Delete(ctx, true)
				}
				return err
			}
			if tty != nil {
				if err := tty.attach(); err != nil {
					c.Delete(ctx, true)
					return err
				}
			}
			if detach {
				return nil
			}
			code, err := forwardAndWait(c.Pid(), tty)
			if tty != nil {
				tty.close()
			}
			if !keep {
				if derr := c.Delete(ctx, true); derr != nil && err == nil {
					err = fmt.Errorf("delete: %w", derr)
				}
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "detach from the container's process")
	cmd.Flags().BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	return cmd
}
