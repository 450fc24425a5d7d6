package volume

import (
	"maps"
	"time"

	volumetypes "github.com/moby/moby/api/types/volume"
)

const (
	// DriverLocal is the only driver: docker's built-in "local".
	DriverLocal = "local"
	// ScopeLocal is the scope of every local volume.
	ScopeLocal = "local"
	// AnonymousLabel marks a volume created without a name, as docker 23
	// and later do: prune removes only these unless asked for all.
	AnonymousLabel = "com.docker.volume.anonymous"
)

// Volume is what the store knows of one volume, as of the call that
// returned it.
type Volume struct {
	Name   string
	Driver string
	// Mountpoint is the host directory containers bind: <root>/<name>/_data.
	Mountpoint string
	CreatedAt  time.Time
	Labels     map[string]string
	// Options are the driver options given at creation (type, device, o).
	Options map[string]string
	// Anonymous is true for a volume created without a name.
	Anonymous bool
	// RefCount is how many containers reference the volume.
	RefCount int
}

// API is v in the Engine API's form. Size is not measured here (it walks
// the whole tree): system df sets UsageData from Store.Usage.
func (v Volume) API() volumetypes.Volume {
	// nil stays nil and empty stays empty: docker answers null for a
	// volume created without labels or options (-v name:/path) and {}
	// for one created with an empty set (docker volume create).
	out := volumetypes.Volume{
		Name:       v.Name,
		Driver:     v.Driver,
		Mountpoint: v.Mountpoint,
		Labels:     maps.Clone(v.Labels),
		Options:    maps.Clone(v.Options),
		Scope:      ScopeLocal,
	}
	if !v.CreatedAt.IsZero() {
		out.CreatedAt = v.CreatedAt.Format(time.RFC3339)
	}
	return out
}
