package events_test

import (
	"testing"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/errdefs"
	bus "github.com/berth-project/berth/internal/events"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	start := containerEvent(events.ActionStart, "0123456789ab", "web", map[string]string{"image": "busybox:latest", "app": "shop", "tier": "front"})
	health := containerEvent(events.ActionHealthStatusHealthy, "0123456789ab", "web", nil)
	execStart := containerEvent("exec_start: sh -c true", "0123456789ab", "web", nil)
	pull := events.Message{Type: events.ImageEventType, Action: events.ActionPull, Scope: "local",
		Actor: events.Actor{ID: "docker.io/library/alpine:3", Attributes: map[string]string{"name": "alpine:3"}}}
	tag := events.Message{Type: events.ImageEventType, Action: events.ActionTag, Scope: "local",
		Actor: events.Actor{ID: "sha256:abcd", Attributes: map[string]string{"name": "busybox:mine"}}}
	vol := events.Message{Type: events.VolumeEventType, Action: events.ActionCreate, Scope: "local",
		Actor: events.Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	start.Scope, health.Scope, execStart.Scope = "local", "local", "local"

	for _, tc := range []struct {
		name    string
		filters map[string][]string
		in      events.Message
		want    bool
	}{
		{"none", nil, start, true},
		{"container by name", map[string][]string{"container": {"web"}}, start, true},
		{"container by id prefix", map[string][]string{"container": {"0123"}}, start, true},
		{"container other", map[string][]string{"container": {"db"}}, start, false},
		{"container or", map[string][]string{"container": {"db", "web"}}, start, true},
		{"container vs volume event", map[string][]string{"container": {"web"}}, vol, false},
		{"event exact", map[string][]string{"event": {"start"}}, start, true},
		{"event other", map[string][]string{"event": {"stop"}}, start, false},
		{"event no prefix for start", map[string][]string{"event": {"sta"}}, start, false},
		{"health_status prefix", map[string][]string{"event": {"health_status"}}, health, true},
		{"health_status exact", map[string][]string{"event": {"health_status: healthy"}}, health, true},
		{"health_status other", map[string][]string{"event": {"health_status: unhealthy"}}, health, false},
		{"exec_start prefix", map[string][]string{"event": {"exec_start"}}, execStart, true},
		{"type", map[string][]string{"type": {"container"}}, start, true},
		{"type other", map[string][]string{"type": {"image"}}, start, false},
		{"label key", map[string][]string{"label": {"app"}}, start, true},
		{"label kv", map[string][]string{"label": {"app=shop"}}, start, true},
		{"label kv wrong", map[string][]string{"label": {"app=bank"}}, start, false},
		{"labels all", map[string][]string{"label": {"app=shop", "tier=front"}}, start, true},
		{"labels all one missing", map[string][]string{"label": {"app=shop", "zone"}}, start, false},
		{"image on container event", map[string][]string{"image": {"busybox"}}, start, true},
		{"image with tag on container event", map[string][]string{"image": {"busybox:latest"}}, start, true},
		{"image other", map[string][]string{"image": {"alpine"}}, start, false},
		{"image event by name", map[string][]string{"image": {"alpine"}}, pull, true},
		{"image event by id", map[string][]string{"image": {"sha256:abcd"}}, tag, true},
		{"image event by name attr", map[string][]string{"image": {"busybox"}}, tag, true},
		{"volume", map[string][]string{"volume": {"data"}}, vol, true},
		{"volume other", map[string][]string{"volume": {"logs"}}, vol, false},
		{"scope local", map[string][]string{"scope": {"local"}}, start, true},
		{"scope swarm", map[string][]string{"scope": {"swarm"}}, start, false},
		{"and", map[string][]string{"type": {"container"}, "event": {"start"}, "container": {"web"}}, start, true},
		{"and fails", map[string][]string{"type": {"container"}, "event": {"die"}, "container": {"web"}}, start, false},
		{"daemon on container event", map[string][]string{"daemon": {"x"}}, start, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := bus.NewFilter(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Include(tc.in); got != tc.want {
				t.Errorf("Include = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterUnknownKey(t *testing.T) {
	t.Parallel()
	_, err := bus.NewFilter(map[string][]string{"colour": {"red"}})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "invalid filter 'colour'" {
		t.Errorf("err %v", err)
	}
}
