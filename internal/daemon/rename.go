package daemon

import (
	"context"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerRename is POST /containers/{id}/rename.
func (d *Daemon) ContainerRename(ctx context.Context, name, newName string) error {
	if newName == "" {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "Neither old nor new names may be empty")
	}
	c, r, err := d.get(name)
	if err != nil {
		return err
	}
	r.op.Lock()
	defer r.op.Unlock()
	c.Lock()
	defer c.Unlock()
	old := c.Name
	if err := d.containers.Rename(c, newName); err != nil {
		return err
	}
	d.emit(c, "rename", map[string]string{"oldName": strings.TrimPrefix(old, "/")})
	_ = ctx
	return nil
}
