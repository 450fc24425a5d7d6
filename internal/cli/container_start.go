package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

type startOptions struct {
	attach, interactive bool
	detachKeys          string
}

func newStartCommand(a *app) *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStart(cmd.Context(), a, o, args)
		},
		Annotations:           map[string]string{"aliases": "berth container start, berth start"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Attach container's STDIN")
	return cmd
}

func runStart(ctx context.Context, a *app, o startOptions, names []string) error {
	detachKeys := o.detachKeys
	if detachKeys == "" {
		detachKeys = a.config().DetachKeys
	}
	if detachKeys != "" {
		if _, err := term.ToBytes(detachKeys); err != nil {
			return fmt.Errorf("invalid detach keys (%s) provided: %w", detachKeys, err)
		}
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	if !o.attach && !o.interactive {
		var failed []string
		for _, name := range names {
			if _, err := c.ContainerStart(ctx, name, sdk.ContainerStartOptions{}); err != nil {
				fmt.Fprintln(a.streams.Err, err)
				failed = append(failed, name)
				continue
			}
			fmt.Fprintln(a.streams.Out, name)
		}
		if len(failed) > 0 {
			return fmt.Errorf("Error: failed to start containers: %s", strings.Join(failed, ", "))
		}
		return nil
	}
	if len(names) > 1 {
		return errors.New("you cannot start and attach multiple containers at once")
	}
	info, err := c.ContainerInspect(ctx, names[0], sdk.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	ctr := info.Container
	tty := ctr.Config != nil && ctr.Config.Tty
	openStdin := ctr.Config != nil && ctr.Config.OpenStdin
	autoRemove := ctr.HostConfig != nil && ctr.HostConfig.AutoRemove
	bg := context.WithoutCancel(ctx)
	if !tty {
		defer a.proxySignals(bg, c, ctr.ID)()
	}
	attachCtx, cancel := context.WithCancel(bg)
	defer cancel()
	closeAttach, streamErr, err := a.attach(attachCtx, c, ctr.ID, tty, sdk.ContainerAttachOptions{
		Stream: true, Stdin: o.interactive && openStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys,
	})
	if err != nil {
		return err
	}
	defer closeAttach()
	waitCtx, stopWaiting := context.WithCancel(bg)
	defer stopWaiting()
	status := a.waitExitOrRemoved(waitCtx, c, ctr.ID, autoRemove)
	if _, err := c.ContainerStart(attachCtx, ctr.ID, sdk.ContainerStartOptions{}); err != nil {
		cancel()
		<-streamErr
		if autoRemove {
			<-status
		}
		return err
	}
	if tty && isTerminal(a.streams.Out) {
		a.monitorTTYSize(attachCtx, func(ctx context.Context, h, w uint) error {
			_, err := c.ContainerResize(ctx, ctr.ID, sdk.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	}
	if err := <-streamErr; err != nil {
		var esc term.EscapeError
		if errors.As(err, &esc) {
			return nil
		}
		return err
	}
	if code := <-status; code != 0 {
		return StatusError{Code: code}
	}
	return nil
}
