package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/api/types/container"
	sdk "github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/client"
)

type attachOptions struct {
	noStdin    bool
	proxy      bool
	detachKeys string
}

func newAttachCommand(a *app) *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttach(cmd.Context(), a, o, args[0])
		},
		Annotations:           map[string]string{"aliases": "berth container attach, berth attach"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVar(&o.noStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&o.proxy, "sig-proxy", true, "Proxy all received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func runAttach(ctx context.Context, a *app, o attachOptions, name string) error {
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
	// Ask for the exit first, so an exit during the attach is not missed.
	wait := c.ContainerWait(context.WithoutCancel(ctx), name, sdk.ContainerWaitOptions{})
	ctr, err := attachableContainer(ctx, c, name)
	if err != nil {
		return err
	}
	tty := ctr.Config.Tty
	if !o.noStdin && tty && !isTerminal(a.streams.In) {
		return errors.New("the input device is not a TTY")
	}
	if o.proxy && !tty {
		defer a.proxySignals(context.WithoutCancel(ctx), c, name)()
	}
	closeAttach, streamErr, err := a.attach(ctx, c, name, tty, sdk.ContainerAttachOptions{
		Stream: true, Stdin: !o.noStdin && ctr.Config.OpenStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys,
	})
	if err != nil {
		return err
	}
	defer closeAttach()
	if tty && isTerminal(a.streams.Out) {
		a.monitorTTYSize(ctx, func(ctx context.Context, h, w uint) error {
			_, err := c.ContainerResize(ctx, name, sdk.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	}
	if err := <-streamErr; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	select {
	case r := <-wait.Result:
		if r.Error != nil {
			return errors.New(r.Error.Message)
		}
		if r.StatusCode != 0 {
			return StatusError{Code: int(r.StatusCode)}
		}
	case err := <-wait.Error:
		return err
	}
	return nil
}

// attachableContainer inspects a container and refuses the states docker
// refuses to attach to.
func attachableContainer(ctx context.Context, c *client.Client, name string) (container.InspectResponse, error) {
	res, err := c.ContainerInspect(ctx, name, sdk.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, err
	}
	ctr := res.Container
	if ctr.State == nil || ctr.Config == nil {
		return ctr, errors.New("the daemon's answer lacks the container's state")
	}
	switch {
	case !ctr.State.Running:
		return ctr, errStoppedAttach
	case ctr.State.Paused:
		return ctr, errPausedAttach
	case ctr.State.Restarting:
		return ctr, errRestartingAttach
	}
	return ctr, nil
}

// Docker's wording, capital letters included.
var (
	//lint:ignore ST1005 docker's wording
	errStoppedAttach = errors.New("You cannot attach to a stopped container, start it first")
	//lint:ignore ST1005 docker's wording
	errPausedAttach = errors.New("You cannot attach to a paused container, unpause it first")
	//lint:ignore ST1005 docker's wording
	errRestartingAttach = errors.New("You cannot attach to a restarting container, wait until it is running")
)
