package daemon

import (
	"maps"
	"strings"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/container"
)

// emit publishes a container event with docker's attributes: the
// container's labels, its image and name, and extra. The caller holds c's
// lock.
func (d *Daemon) emit(c *container.Container, action events.Action, extra map[string]string) {
	attrs := maps.Clone(c.Labels())
	if c.Config != nil {
		attrs["image"] = c.Config.Image
	}
	attrs["name"] = strings.TrimPrefix(c.Name, "/")
	maps.Copy(attrs, extra)
	d.events.Publish(events.Message{
		Type:   events.ContainerEventType,
		Action: action,
		Actor:  events.Actor{ID: c.ID, Attributes: attrs},
		Scope:  "local",
	})
}

// lockAndEmit is emit for a caller that does not hold c's lock.
func (d *Daemon) lockAndEmit(c *container.Container, action events.Action, extra map[string]string) {
	c.Lock()
	defer c.Unlock()
	d.emit(c, action, extra)
}
