package daemon

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerList is GET /containers/json: running containers (all with
// All, a status filter or a limit), newest first, filtered as docker's ps.
func (d *Daemon) ContainerList(ctx context.Context, opts server.ContainerListOptions) ([]containertypes.Summary, error) {
	f, err := d.listFilters(ctx, opts.Filters)
	if err != nil {
		return nil, err
	}
	all := opts.All || opts.Limit > 0 || len(opts.Filters["status"]) > 0 || len(opts.Filters["exited"]) > 0
	out := []containertypes.Summary{}
	current := map[string]string{} // image name -> the ID it names now
	for _, c := range d.containers.List() {
		if opts.Limit > 0 && len(out) >= opts.Limit {
			break
		}
		c.Lock()
		if (!all && !c.State.IsRunning()) || !f.match(c) {
			c.Unlock()
			continue
		}
		s := summary(c)
		c.Unlock()
		s.Image = d.imageShown(ctx, s.Image, s.ImageID, current)
		if opts.Size {
			s.SizeRw, s.SizeRootFs = d.sizes(ctx, c)
		}
		out = append(out, s)
	}
	return out, nil
}

// imageShown is ps's IMAGE: the name the container was created from while
// that name still means the image the container runs, else the image's ID,
// as dockerd shows it once the tag was removed or moved to another image.
// current remembers the lookups of one listing.
func (d *Daemon) imageShown(ctx context.Context, name, id string, current map[string]string) string {
	if name == id {
		return name
	}
	now, ok := current[name]
	if !ok {
		if img, err := d.images.Get(ctx, name); err == nil {
			if res, err := d.images.Resolve(ctx, img); err == nil {
				now = res.ID().String()
			}
		}
		current[name] = now
	}
	if now != id {
		return id
	}
	return name
}

// commandLine is ps's COMMAND as docker makes it: the path and the
// arguments, each one holding a space in single quotes (nothing else is
// escaped).
func commandLine(path string, args []string) string {
	words := []string{path}
	for _, a := range args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

func summary(c *container.Container) containertypes.Summary {
	s := containertypes.Summary{
		ID:      c.ID,
		Names:   []string{c.Name},
		Image:   c.Config.Image,
		ImageID: c.Image.String(),
		Command: commandLine(c.Path, c.Args),
		Created: c.Created.Unix(),
		Ports:   portSummaries(c),
		Labels:  c.Labels(),
		State:   c.State.Status,
		Status:  statusString(&c.State, time.Now()),
		Mounts:  mountPoints(c),
		NetworkSettings: &containertypes.NetworkSettingsSummary{
			Networks: networkSettings(c).Networks,
		},
		ImageManifestDescriptor: c.ImageManifest,
	}
	s.HostConfig.NetworkMode = string(c.HostConfig.NetworkMode)
	if h := c.State.Health; h != nil {
		s.Health = &containertypes.HealthSummary{Status: h.Status, FailingStreak: h.FailingStreak}
	}
	if s.NetworkSettings.Networks == nil {
		s.NetworkSettings.Networks = map[string]*network.EndpointSettings{}
	}
	return s
}

// statusString is docker's ps STATUS column.
func statusString(s *container.State, now time.Time) string {
	switch s.Status {
	case container.Paused:
		return fmt.Sprintf("Up %s (Paused)", units.HumanDuration(now.Sub(s.StartedAt)))
	case container.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
	case container.Running:
		up := "Up " + units.HumanDuration(now.Sub(s.StartedAt))
		if h := s.Health; h != nil {
			hs := string(h.Status)
			if h.Status == containertypes.Starting {
				hs = "health: starting"
			}
			up += " (" + hs + ")"
		}
		return up
	case container.Removing:
		return "Removal In Progress"
	case container.Dead:
		return "Dead"
	}
	if s.StartedAt.IsZero() {
		return "Created"
	}
	if s.FinishedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
}

// psFilters is a parsed ps filter set; every key present must match.
type psFilters struct {
	ids, statuses, health, networks []string
	names                           []*regexp.Regexp
	labels                          []labelFilter
	exited                          []int
	ancestors                       []string // image IDs, and the names given
	before, since                   *time.Time
	isTask                          *bool
	publish, expose                 []portFilter
	volumes                         []string // volume names, bind sources, destinations
}

type labelFilter struct {
	key, value string
	hasValue   bool
}

var validStatuses = map[string]bool{
	"created": true, "restarting": true, "running": true, "removing": true, "paused": true, "exited": true, "dead": true,
}

func (d *Daemon) listFilters(ctx context.Context, in server.Filters) (*psFilters, error) {
	f := &psFilters{}
	for key, values := range in {
		for _, v := range values {
			switch key {
			case "id":
				f.ids = append(f.ids, v)
			case "name":
				re, err := regexp.Compile(v)
				if err != nil {
					return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter 'name=%s': %v", v, err)
				}
				f.names = append(f.names, re)
			case "label":
				k, val, ok := strings.Cut(v, "=")
				f.labels = append(f.labels, labelFilter{key: k, value: val, hasValue: ok})
			case "status":
				if !validStatuses[v] {
					return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter 'status=%s'", v)
				}
				f.statuses = append(f.statuses, v)
			case "exited":
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter 'exited=%s'", v)
				}
				f.exited = append(f.exited, n)
			case "health":
				switch v {
				case "starting", "healthy", "unhealthy", "none":
				default:
					return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "Unrecognised filter value for health: %s", v)
				}
				f.health = append(f.health, v)
			case "ancestor":
				f.ancestors = append(f.ancestors, v)
				if img, err := d.images.Get(ctx, v); err == nil {
					if res, err := d.images.Resolve(ctx, img); err == nil {
						f.ancestors = append(f.ancestors, res.ID().String())
					}
				}
			case "before", "since":
				other, err := d.containers.Get(v)
				if err != nil {
					return nil, err
				}
				other.Lock()
				t := other.Created
				other.Unlock()
				if key == "before" {
					f.before = &t
				} else {
					f.since = &t
				}
			case "is-task":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter 'is-task=%s'", v)
				}
				f.isTask = &b
			case "network":
				f.networks = append(f.networks, v)
			case "publish", "expose":
				pf, err := parsePortFilter(key, v)
				if err != nil {
					return nil, err
				}
				if key == "publish" {
					f.publish = append(f.publish, pf)
				} else {
					f.expose = append(f.expose, pf)
				}
			case "volume":
				f.volumes = append(f.volumes, v)
			default:
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s'", key)
			}
		}
	}
	return f, nil
}

// match is the filter for one container; the caller holds c's lock.
func (f *psFilters) match(c *container.Container) bool {
	if f.isTask != nil && *f.isTask {
		return false
	}
	if len(f.ids) > 0 && !anyOf(f.ids, func(id string) bool { return strings.HasPrefix(c.ID, id) }) {
		return false
	}
	if len(f.names) > 0 && !anyOf(f.names, func(re *regexp.Regexp) bool { return re.MatchString(c.Name) }) {
		return false
	}
	labels := c.Labels()
	for _, l := range f.labels {
		v, ok := labels[l.key]
		if !ok || (l.hasValue && v != l.value) {
			return false
		}
	}
	if len(f.statuses) > 0 && !anyOf(f.statuses, func(s string) bool { return s == string(c.State.Status) }) {
		return false
	}
	if len(f.exited) > 0 {
		if c.State.Status != container.Exited || !anyOf(f.exited, func(n int) bool { return n == c.State.ExitCode }) {
			return false
		}
	}
	if len(f.health) > 0 {
		h := "none"
		if c.State.Health != nil {
			h = string(c.State.Health.Status)
		}
		if !anyOf(f.health, func(s string) bool { return s == h }) {
			return false
		}
	}
	if len(f.ancestors) > 0 && !anyOf(f.ancestors, func(a string) bool {
		return a == c.Image.String() || a == c.Config.Image || strings.HasPrefix(c.Image.Encoded(), a)
	}) {
		return false
	}
	if f.before != nil && !c.Created.Before(*f.before) {
		return false
	}
	if f.since != nil && !c.Created.After(*f.since) {
		return false
	}
	if len(f.networks) > 0 && !anyOf(f.networks, func(n string) bool { return onNetwork(c, n) }) {
		return false
	}
	if len(f.publish) > 0 && !anyOf(f.publish, func(pf portFilter) bool { return publishes(c, pf) }) {
		return false
	}
	if len(f.expose) > 0 && !anyOf(f.expose, func(pf portFilter) bool { return exposes(c, pf) }) {
		return false
	}
	if len(f.volumes) > 0 && !anyOf(f.volumes, func(v string) bool { return usesVolume(c, v) }) {
		return false
	}
	return true
}

func anyOf[T any](list []T, pred func(T) bool) bool {
	for _, x := range list {
		if pred(x) {
			return true
		}
	}
	return false
}

// usesVolume is docker's ps --filter volume=: a mount point of c is at
// destination v, or is volume v, or binds host path v. The caller holds
// c's lock.
func usesVolume(c *container.Container, v string) bool {
	for _, m := range mountPoints(c) {
		if m.Destination == v || (m.Name != "" && m.Name == v) || (m.Name == "" && m.Source == v) {
			return true
		}
	}
	return false
}
