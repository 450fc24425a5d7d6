package cli

import (
	"context"

	"github.com/moby/moby/api/types/container"
	sdk "github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/client"
)

// waitExitOrRemoved waits, from before the start, for the container's
// next exit (or, with --rm, its removal) and delivers its exit status;
// 125 when the wait itself failed.
func (a *app) waitExitOrRemoved(ctx context.Context, c *client.Client, id string, removed bool) <-chan int {
	cond := container.WaitConditionNextExit
	if removed {
		cond = container.WaitConditionRemoved
	}
	res := c.ContainerWait(ctx, id, sdk.ContainerWaitOptions{Condition: cond})
	status := make(chan int, 1)
	go func() {
		select {
		case r := <-res.Result:
			if ctx.Err() != nil {
				status <- 125
				return
			}
			if r.Error != nil {
				a.log.Error("error waiting for container: " + r.Error.Message)
				status <- 125
				return
			}
			status <- int(r.StatusCode)
		case err := <-res.Error:
			// A wait the command gave up on (run -d) is no error.
			if ctx.Err() == nil {
				a.log.Error("error waiting for container: " + err.Error())
			}
			status <- 125
		}
	}()
	return status
}
