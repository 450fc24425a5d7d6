package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/client"
)

type runOptions struct {
	createOptions
	detach     bool
	sigProxy   bool
	detachKeys string
}

func newRunCommand(a *app) *cobra.Command {
	var o runOptions
	var copts *containerOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			copts.image, copts.args = args[0], args[1:]
			return runRun(cmd.Context(), a, cmd.Flags(), o, copts)
		},
		Annotations:           map[string]string{"aliases": "berth container run, berth run"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	addCreateFlags(a, f, &o.createOptions)
	copts = addContainerFlags(f)
	return cmd
}

func runRun(ctx context.Context, a *app, flags *pflag.FlagSet, o runOptions, copts *containerOptions) error {
	if err := validatePull(o.pull); err != nil {
		return usageError("run", err)
	}
	cfg, err := parseContainer(flags, copts)
	if err != nil {
		return usageError("run", err)
	}
	config := cfg.Config
	if o.detach {
		if copts.attach.Len() != 0 {
			return errors.New("conflicting options: cannot specify both --attach and --detach")
		}
		config.AttachStdin, config.AttachStdout, config.AttachStderr, config.StdinOnce = false, false, false, false
	} else if config.AttachStdin && config.Tty && !isTerminal(a.streams.In) {
		return errors.New("the input device is not a TTY")
	}
	detachKeys := o.detachKeys
	if detachKeys == "" {
		detachKeys = a.config().DetachKeys
	}
	if o.detachKeys != "" {
		if _, err := term.ToBytes(o.detachKeys); err != nil {
			return fmt.Errorf("invalid detach keys (%s) provided: %w", o.detachKeys, err)
		}
	}

	id, err := createContainer(ctx, a, cfg, o.createOptions)
	if err != nil {
		return runStatusError(err)
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	// The container's life is not the command's context: a cancelled
	// CLI must still leave the terminal restored and the wait answered.
	bg := context.WithoutCancel(ctx)
	if o.sigProxy {
		defer a.proxySignals(bg, c, id)()
	}
	attachCtx, cancelAttach := context.WithCancel(bg)
	defer cancelAttach()

	attach := config.AttachStdin || config.AttachStdout || config.AttachStderr
	var (
		idPrinted chan struct{}
		streamErr chan error
	)
	if !attach {
		// Printed concurrently so a client writing to our stdin before
		// reading the ID does not deadlock.
		idPrinted = make(chan struct{})
		go func() {
			defer close(idPrinted)
			fmt.Fprintln(a.streams.Out, id)
		}()
	} else {
		closeAttach, errc, err := a.attach(attachCtx, c, id, config.Tty, sdk.ContainerAttachOptions{
			Stream: true, Stdin: config.AttachStdin, Stdout: config.AttachStdout,
			Stderr: config.AttachStderr, DetachKeys: detachKeys,
		})
		if err != nil {
			return err
		}
		defer closeAttach()
		streamErr = errc
	}

	waitCtx, stopWaiting := context.WithCancel(bg)
	defer stopWaiting()
	status := a.waitExitOrRemoved(waitCtx, c, id, copts.autoRemove)
	if _, err := c.ContainerStart(attachCtx, id, sdk.ContainerStartOptions{}); err != nil {
		if attach {
			cancelAttach()
			<-streamErr
		}
		if copts.autoRemove {
			<-status
		}
		if !attach {
			<-idPrinted
		}
		return runStatusError(err)
	}
	if !attach {
		<-idPrinted
		return nil
	}
	if config.Tty && isTerminal(a.streams.Out) {
		a.monitorTTYSize(attachCtx, func(ctx context.Context, h, w uint) error {
			_, err := c.ContainerResize(ctx, id, sdk.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	}
	select {
	case err := <-streamErr:
		if err != nil {
			var esc term.EscapeError
			if errors.As(err, &esc) {
				return nil // the user detached
			}
			return err
		}
		if code := <-status; code != 0 {
			return StatusError{Code: code}
		}
	case code := <-status:
		// The output may not be fully read yet; without stdout or stderr
		// attached there is nothing to wait for.
		if !config.AttachStdout && !config.AttachStderr {
			cancelAttach()
		}
		<-streamErr
		if code != 0 {
			return StatusError{Code: code}
		}
	}
	return nil
}

// attach opens the hijacked attach stream and copies it in the background;
// the returned channel delivers how the copying ended.
func (a *app) attach(ctx context.Context, c *client.Client, id string, tty bool, opts sdk.ContainerAttachOptions) (func(), chan error, error) {
	res, err := c.ContainerAttach(ctx, id, opts)
	if err != nil {
		return nil, nil, err
	}
	errc := a.copyHijacked(ctx, res.HijackedResponse, tty, opts.Stdin, opts.Stdout, opts.Stderr, opts.DetachKeys)
	return res.HijackedResponse.Close, errc, nil
}

// copyHijacked copies between the user's streams and a hijacked
// connection in the background; with a terminal, stderr goes to stdout as
// the daemon sends one stream.
func (a *app) copyHijacked(ctx context.Context, resp sdk.HijackedResponse, tty, stdin, stdout, stderr bool, detachKeys string) chan error {
	h := &hijacked{resp: resp, tty: tty, detachKeys: detachKeys, log: a.log}
	if stdin {
		h.in = a.streams.In
	}
	if stdout {
		h.out = a.streams.Out
	}
	if stderr {
		h.err = a.streams.Err
		if tty {
			h.err = a.streams.Out
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- h.stream(ctx) }()
	return errc
}

// runStatusError gives a failed create or start docker's exit status: 127
// when the command was not found, 126 when it could not be run, else 125.
// The daemon's message is all the wire carries, so the text decides, with
// the same phrases docker looks for.
func runStatusError(err error) error {
	msg := err.Error()
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") ||
		strings.Contains(msg, "system cannot find the file specified"):
		code = 127
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory"):
		code = 126
	}
	return StatusError{
		Status: fmt.Sprintf("berth: %s\n\nRun 'berth run --help' for more information", err),
		Code:   code,
		Cause:  err,
	}
}
