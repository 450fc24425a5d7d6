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
	if strings.TrimPrefix(newName, "/") == strings.TrimPrefix(old, "/") {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "Renaming a container with the same name as its current name")
	}
	// As docker: the new name is checked once the container is found, in
	// its "/" form, and a bad or taken one is a failure to allocate it.
	if err := d.containers.Rename(c, "/"+strings.TrimPrefix(newName, "/")); err != nil {
		switch {
		case errdefs.IsConflict(err):
			return errdefs.Errorf(errdefs.ErrConflict, "Error when allocating new name: %w", err)
		case errdefs.IsInvalidParameter(err):
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "Error when allocating new name: %w", err)
		}
		return err
	}
	// dockerd's oldName is the stored name, with its "/" (name is not).
	d.emit(c, "rename", map[string]string{"oldName": "/" + strings.TrimPrefix(old, "/")})
	_ = ctx
	return nil
}
