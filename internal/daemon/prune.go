package daemon

import (
	"context"
	"strconv"
	"strings"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// ContainersPrune is POST /containers/prune: remove every stopped
// container (created, exited, dead) that the filters (until, label,
// label!) select, reporting what was freed.
func (d *Daemon) ContainersPrune(ctx context.Context, filters server.Filters) (containertypes.PruneReport, error) {
	report := containertypes.PruneReport{ContainersDeleted: []string{}}
	pf, err := parsePruneFilters(filters)
	if err != nil {
		return report, err
	}
	for _, c := range d.containers.List() {
		c.Lock()
		ok := !c.State.IsRunning() && c.State.Status != container.Removing &&
			pf.match(c.Created, c.Labels())
		c.Unlock()
		if !ok {
			continue
		}
		rw, _ := d.sizes(ctx, c)
		_, r, err := d.get(c.ID)
		if err != nil {
			continue
		}
		if err := d.remove(ctx, c, r, false); err != nil {
			d.log.Warn("prune", "container", c.ID, "err", err)
			continue
		}
		report.ContainersDeleted = append(report.ContainersDeleted, c.ID)
		report.SpaceReclaimed += uint64(max(rw, 0))
	}
	d.events.Publish(events.Message{
		Type:   events.ContainerEventType,
		Action: events.ActionPrune,
		Actor:  events.Actor{Attributes: map[string]string{"reclaimed": strconv.FormatUint(report.SpaceReclaimed, 10)}},
		Scope:  "local",
	})
	return report, nil
}

func labelsMatch(have map[string]string, want, wantNot []labelFilter) bool {
	for _, l := range want {
		v, ok := have[l.key]
		if !ok || (l.hasValue && v != l.value) {
			return false
		}
	}
	for _, l := range wantNot {
		v, ok := have[l.key]
		if ok && (!l.hasValue || v == l.value) {
			return false
		}
	}
	return true
}

// pruneFilters are the filters every prune endpoint takes: until (a time
// or a duration before now), label and label! (key or key=value).
type pruneFilters struct {
	until            time.Time
	labels, notLabel []labelFilter
}

func parsePruneFilters(filters server.Filters) (pruneFilters, error) {
	var pf pruneFilters
	for key, values := range filters {
		for _, v := range values {
			switch key {
			case "until":
				t, err := image.ParseFilterTime(v, time.Now())
				if err != nil {
					return pf, err
				}
				pf.until = t
			case "label", "label!":
				k, val, ok := strings.Cut(v, "=")
				lf := labelFilter{key: k, value: val, hasValue: ok}
				if key == "label" {
					pf.labels = append(pf.labels, lf)
				} else {
					pf.notLabel = append(pf.notLabel, lf)
				}
			default:
				return pf, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s'", key)
			}
		}
	}
	return pf, nil
}

// match tells whether something created at created with labels is
// selected.
func (pf pruneFilters) match(created time.Time, labels map[string]string) bool {
	return (pf.until.IsZero() || created.Before(pf.until)) && labelsMatch(labels, pf.labels, pf.notLabel)
}
