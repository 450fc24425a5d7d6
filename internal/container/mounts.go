package container

import (
	"maps"
	"path"
	"slices"
	"strings"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// MountPoint is one of the container's mounts as docker records it (its
// MountPoints, keyed by destination): a volume, a bind of a host path, or
// a tmpfs asked with --mount. What --tmpfs asks (HostConfig.Tmpfs) is not
// a mount point, as in docker. Inspect's Mounts and ps's volume filter
// show these.
type MountPoint struct {
	Type mount.Type
	// Name is the volume's name (volumes only).
	Name string `json:",omitempty"`
	// Source is the host path: a bind's source, or the volume's directory
	// (its _data) at the time the container was created.
	Source      string `json:",omitempty"`
	Destination string
	// Driver is the volume's driver ("local"); empty for the other types.
	Driver string `json:",omitempty"`
	// Mode is what the user wrote as -v's third field ("ro", "rw,z",
	// "nocopy"...), or "z" for a local volume asked without one, as docker
	// shows it; empty for --mount binds and image volumes.
	Mode string `json:",omitempty"`
	RW   bool
	// Propagation is a bind's propagation ("rprivate" unless asked);
	// empty for volumes and tmpfs.
	Propagation mount.Propagation `json:",omitempty"`
	// Spec is the mount as asked, in --mount's form (a -v is converted):
	// what start needs beyond the above (bind and tmpfs options, a
	// volume's subpath). Its Source is empty for an anonymous volume.
	Spec mount.Mount
	// SkipMountpointCreation: a bind whose missing source is an error at
	// start rather than a directory to create (--mount without
	// bind-create-mountpoint; -v creates it, as docker).
	SkipMountpointCreation bool `json:",omitempty"`
	// CopyData: a volume to seed with the image's content at its
	// destination when the container is created (not for nocopy, nor for
	// one brought by --volumes-from). Not kept: copy-up happens once.
	CopyData bool `json:"-"`
}

// IsVolume reports whether m is a volume's mount (named or anonymous).
func (m *MountPoint) IsVolume() bool { return m.Type == mount.TypeVolume && m.Name != "" }

// IsAnonymous reports whether m is a volume the container asked for
// without a name (-v /path, --mount without a source, an image VOLUME):
// `rm -v` removes those, and leaves named ones (docker's rule).
func (m *MountPoint) IsAnonymous() bool { return m.IsVolume() && m.Spec.Source == "" }

// API is m as inspect and ps show it.
func (m *MountPoint) API() containertypes.MountPoint {
	return containertypes.MountPoint{
		Type:        m.Type,
		Name:        m.Name,
		Source:      m.Source,
		Destination: m.Destination,
		Driver:      m.Driver,
		Mode:        m.Mode,
		RW:          m.RW,
		Propagation: m.Propagation,
	}
}

// Clone is a deep copy of m, for readers that drop the container's lock.
func (m *MountPoint) Clone() *MountPoint {
	out := *m
	out.Spec = cloneMount(m.Spec)
	return &out
}

func cloneMount(m mount.Mount) mount.Mount {
	if o := m.BindOptions; o != nil {
		c := *o
		m.BindOptions = &c
	}
	if o := m.VolumeOptions; o != nil {
		c := *o
		c.Labels = maps.Clone(o.Labels)
		if o.DriverConfig != nil {
			dc := *o.DriverConfig
			dc.Options = maps.Clone(o.DriverConfig.Options)
			c.DriverConfig = &dc
		}
		m.VolumeOptions = &c
	}
	if o := m.TmpfsOptions; o != nil {
		c := *o
		c.Options = slices.Clone(o.Options)
		m.TmpfsOptions = &c
	}
	if o := m.ImageOptions; o != nil {
		c := *o
		m.ImageOptions = &c
	}
	return m
}

// SortedMountPoints lists the container's mount points in the order they
// are mounted: parents before children (by the depth of the
// destination), then by destination. The caller holds c's lock; the
// entries are copies.
func (c *Container) SortedMountPoints() []*MountPoint {
	out := make([]*MountPoint, 0, len(c.MountPoints))
	for _, m := range c.MountPoints {
		out = append(out, m.Clone())
	}
	SortMountPoints(out)
	return out
}

// SortMountPoints sorts mount points parents first (by the depth of their
// destination), then by destination.
func SortMountPoints(mps []*MountPoint) {
	slices.SortStableFunc(mps, func(a, b *MountPoint) int {
		da, db := depth(a.Destination), depth(b.Destination)
		if da != db {
			return da - db
		}
		return strings.Compare(a.Destination, b.Destination)
	})
}

func depth(p string) int {
	p = path.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// APIMounts is the container's mount points as inspect and ps show them,
// sorted by destination (docker's order is a map's); never nil. The
// caller holds c's lock.
func (c *Container) APIMounts() []containertypes.MountPoint {
	out := make([]containertypes.MountPoint, 0, len(c.MountPoints))
	for _, m := range c.MountPoints {
		out = append(out, m.API())
	}
	slices.SortFunc(out, func(a, b containertypes.MountPoint) int { return strings.Compare(a.Destination, b.Destination) })
	return out
}
