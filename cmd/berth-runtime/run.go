package main

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

func newRunCommand(g *globals) *command {
	var f createFlags
	var detach, keep bool
	cmd := &command{
		usage: "run [flags] <container-id>",
		short: "create and start a container, and wait for it unless detached",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
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
	cmd.flags.Bool(&detach, "detach", 'd', "detach from the container's process")
	cmd.flags.Bool(&keep, "keep", 0, "do not delete the container after it exits")
	return cmd
}
