package daemon

import (
	"context"
	"slices"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerWait is POST /containers/{id}/wait. It registers the wait and
// returns at once; the channel yields one result and closes:
//
//   - not-running: now if the container is not running (created, exited),
//     else at its next exit;
//   - next-exit: at the next exit, even of a container not started yet;
//   - removed: when the container is removed.
//
// An exit into a restart counts as an exit. When ctx ends first the
// channel closes without a result.
func (d *Daemon) ContainerWait(ctx context.Context, name string, cond containertypes.WaitCondition) (<-chan containertypes.WaitResponse, error) {
	switch cond {
	case "":
		cond = containertypes.WaitConditionNotRunning
	case containertypes.WaitConditionNotRunning, containertypes.WaitConditionNextExit, containertypes.WaitConditionRemoved:
	default:
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid condition: %q", cond)
	}
	c, r, err := d.get(name)
	if err != nil {
		return nil, err
	}
	ch := make(chan containertypes.WaitResponse, 1)
	c.Lock()
	defer c.Unlock()
	if cond == containertypes.WaitConditionNotRunning && !c.State.IsRunning() {
		ch <- waitResponse(c.State.ExitCode, c.State.Error)
		close(ch)
		return ch, nil
	}
	if r.removed {
		msg := c.State.Error
		if cond == containertypes.WaitConditionRemoved {
			msg = "" // as notifyRemoved
		}
		ch <- waitResponse(c.State.ExitCode, msg)
		close(ch)
		return ch, nil
	}
	w := &waiter{cond: cond, ch: ch}
	r.waiters = append(r.waiters, w)
	context.AfterFunc(ctx, func() {
		c.Lock()
		defer c.Unlock()
		if i := slices.Index(r.waiters, w); i >= 0 {
			r.waiters = slices.Delete(r.waiters, i, i+1)
			close(ch)
		}
	})
	return ch, nil
}
