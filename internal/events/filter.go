package events

import (
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/errdefs"
)

// acceptedFilters are the keys docker's GET /events accepts.
var acceptedFilters = map[string]bool{
	"config":    true,
	"container": true,
	"daemon":    true,
	"event":     true,
	"image":     true,
	"label":     true,
	"network":   true,
	"node":      true,
	"plugin":    true,
	"scope":     true,
	"secret":    true,
	"service":   true,
	"type":      true,
	"volume":    true,
}

// prefixActions are the actions that carry a suffix ("health_status:
// healthy", "exec_start: sh -c ..."): filtering on the bare action matches
// every suffixed one, as docker does.
var prefixActions = []string{
	string(events.ActionHealthStatus),
	string(events.ActionExecCreate),
	string(events.ActionExecStart),
}

// Filter is a parsed set of docker event filters: values of one key are
// ORed, keys are ANDed (labels: every one must match).
type Filter struct {
	args map[string]map[string]bool
}

// NewFilter checks and parses the decoded "filters" query parameter. An
// unknown key is errdefs.ErrInvalidParameter with docker's message.
func NewFilter(in map[string][]string) (*Filter, error) {
	f := &Filter{args: map[string]map[string]bool{}}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !acceptedFilters[k] {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid filter '%s'", k)
		}
		if len(in[k]) == 0 {
			continue
		}
		set := map[string]bool{}
		for _, v := range in[k] {
			set[v] = true
		}
		f.args[k] = set
	}
	return f, nil
}

// Include reports whether m passes every filter.
func (f *Filter) Include(m events.Message) bool {
	if f == nil || len(f.args) == 0 {
		return true
	}
	return f.matchAction(string(m.Action)) &&
		f.exact("type", string(m.Type)) &&
		f.exact("scope", m.Scope) &&
		f.matchName(m, events.DaemonEventType) &&
		f.matchName(m, events.ContainerEventType) &&
		f.matchName(m, events.PluginEventType) &&
		f.matchName(m, events.VolumeEventType) &&
		f.matchName(m, events.NetworkEventType) &&
		f.matchName(m, events.NodeEventType) &&
		f.matchName(m, events.ServiceEventType) &&
		f.matchName(m, events.SecretEventType) &&
		f.matchName(m, events.ConfigEventType) &&
		f.matchImage(m) &&
		f.matchLabels(m.Actor.Attributes)
}

// exact: no values for key, or v is one of them.
func (f *Filter) exact(key, v string) bool {
	set, ok := f.args[key]
	return !ok || set[v]
}

// fuzzy: no values for key, or one of them is v or a prefix of v (a short
// ID).
func (f *Filter) fuzzy(key, v string) bool {
	set, ok := f.args[key]
	if !ok || set[v] {
		return true
	}
	for want := range set {
		if want != "" && strings.HasPrefix(v, want) {
			return true
		}
	}
	return false
}

func (f *Filter) matchAction(action string) bool {
	set, ok := f.args["event"]
	if !ok {
		return true
	}
	for _, p := range prefixActions {
		if set[p] {
			return f.fuzzy("event", action)
		}
	}
	return set[action]
}

// matchName matches a container, network, volume... filter against the
// actor's ID (or its prefix) or its "name" attribute.
func (f *Filter) matchName(m events.Message, t events.Type) bool {
	key := string(t)
	if _, ok := f.args[key]; !ok {
		return true
	}
	return f.fuzzy(key, m.Actor.ID) || f.fuzzy(key, m.Actor.Attributes["name"])
}

// matchImage matches an image filter against an image event's actor (ID
// or "name") and a container event's "image" attribute, each also without
// its tag, so that --filter image=busybox follows busybox's containers.
func (f *Filter) matchImage(m events.Message) bool {
	if _, ok := f.args["image"]; !ok {
		return true
	}
	attr := "image"
	if m.Type == events.ImageEventType {
		attr = "name"
	}
	name := m.Actor.Attributes[attr]
	return f.exact("image", m.Actor.ID) || f.exact("image", name) ||
		f.exact("image", stripTag(m.Actor.ID)) || f.exact("image", stripTag(name))
}

func stripTag(s string) string {
	if s == "" {
		return s
	}
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.FamiliarName(n)
}

// matchLabels: every "key" or "key=value" filter must hold on the actor's
// attributes.
func (f *Filter) matchLabels(attrs map[string]string) bool {
	set, ok := f.args["label"]
	if !ok {
		return true
	}
	for want := range set {
		k, v, hasValue := strings.Cut(want, "=")
		got, present := attrs[k]
		if !present || (hasValue && got != v) {
			return false
		}
	}
	return true
}
