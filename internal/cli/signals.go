package cli

import (
	"context"
	"os"
	"os/signal"
	"strings"

	sdk "github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// proxySignals forwards the signals the CLI receives to the container
// (run and start --sig-proxy), until the returned stop is called.
func (a *app) proxySignals(ctx context.Context, c interface {
	ContainerKill(context.Context, string, sdk.ContainerKillOptions) (sdk.ContainerKillResult, error)
}, id string) (stop func()) {
	sigc := make(chan os.Signal, 128)
	signal.Notify(sigc)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigc:
				sig, ok := s.(unix.Signal)
				if !ok || !forwarded(sig) {
					continue
				}
				name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
				if _, err := c.ContainerKill(ctx, id, sdk.ContainerKillOptions{Signal: name}); err != nil {
					a.log.Debug("forwarding a signal", "signal", name, "err", err)
				}
			}
		}
	}()
	return func() {
		signal.Stop(sigc)
		close(done)
	}
}

// forwarded reports whether a signal concerns the container: not the ones
// about the CLI's own process, its terminal or the Go runtime.
func forwarded(s unix.Signal) bool {
	switch s {
	case unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG, unix.SIGWINCH:
		return false
	}
	return unix.SignalName(s) != ""
}
