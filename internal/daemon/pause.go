package daemon

import (
	"context"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerPause is POST /containers/{id}/pause: the cgroup is frozen.
func (d *Daemon) ContainerPause(ctx context.Context, name string) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	defer c.Unlock()
	switch {
	case c.State.Status == container.Paused:
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is already paused", c.ID)
	case c.State.Status != container.Running || r.task == nil:
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.ID)
	}
	// The freeze is quick; holding the record's lock keeps the state and
	// the cgroup in step.
	if err := r.task.Pause(ctx); err != nil {
		return err
	}
	if err := c.State.SetPaused(); err != nil {
		return err
	}
	if err := d.containers.Checkpoint(c); err != nil {
		d.log.Error("pause: save record", "container", c.ID, "err", err)
	}
	d.emit(c, "pause", nil)
	return nil
}

// ContainerUnpause is POST /containers/{id}/unpause.
func (d *Daemon) ContainerUnpause(ctx context.Context, name string) error {
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	defer c.Unlock()
	if c.State.Status != container.Paused || r.task == nil {
		return errdefs.Errorf(errdefs.ErrConflict, "Container %s is not paused", c.ID)
	}
	if err := r.task.Resume(ctx); err != nil {
		return err
	}
	if err := c.State.SetUnpaused(); err != nil {
		return err
	}
	if err := d.containers.Checkpoint(c); err != nil {
		d.log.Error("unpause: save record", "container", c.ID, "err", err)
	}
	d.emit(c, "unpause", nil)
	return nil
}
