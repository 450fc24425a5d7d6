package cli

import (
	"context"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

// resizer sends the terminal's size to a container or exec process.
type resizer func(ctx context.Context, height, width uint) error

// monitorTTYSize gives the process the size of the user's terminal now and
// again whenever it changes (SIGWINCH), until ctx ends. The first resize is
// retried briefly: the process may not be running yet.
func (a *app) monitorTTYSize(ctx context.Context, resize resizer) {
	resizeNow := func() error {
		h, w := terminalSize(a.streams.Out)
		if h == 0 && w == 0 {
			return nil
		}
		return resize(ctx, h, w)
	}
	go func() {
		for i := 0; i < 10; i++ {
			if err := resizeNow(); err == nil || ctx.Err() != nil {
				return
			}
			time.Sleep(time.Duration(i+1) * 10 * time.Millisecond)
		}
	}()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-winch:
				resizeNow()
			case <-ctx.Done():
				return
			}
		}
	}()
}
