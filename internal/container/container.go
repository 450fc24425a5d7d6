package container

import (
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Container is one container's record: everything the daemon must know
// about it across restarts. Config and HostConfig are the Engine API's own
// types, kept as docker keeps them (the image's config already merged into
// Config at create).
//
// A Container is shared between the daemon's goroutines: hold its lock
// (Lock, Unlock) to read or change any field after the Store has it, and
// while calling Store.Save.
type Container struct {
	mu sync.Mutex

	ID      string
	Name    string // with its leading "/"
	Created time.Time
	// Path and Args are the init's command (entrypoint + cmd), as inspect
	// shows them.
	Path string
	Args []string

	Config     *containertypes.Config
	HostConfig *containertypes.HostConfig

	// Image is the image's ID (its config digest); Config.Image is the
	// reference the user gave.
	Image         digest.Digest
	ImageManifest *ocispec.Descriptor `json:",omitempty"`
	Platform      string

	State State

	// RestartCount counts the restarts by the restart policy since the
	// last start by a user.
	RestartCount int
	// HasBeenStarted: the container ran at least once.
	HasBeenStarted bool `json:",omitempty"`
	// ManuallyStopped: a user stopped it (stop, kill through stop, a
	// paused-then-stopped); restart policies leave it alone, and the
	// daemon does not start an unless-stopped container at boot.
	ManuallyStopped bool `json:",omitempty"`

	// Driver is the storage driver name docker shows ("overlay2");
	// Snapshotter the snapshotter that holds SnapshotKey.
	Driver      string
	Snapshotter string
	SnapshotKey string
	// Runtime is the OCI runtime's name (HostConfig.Runtime, or the
	// daemon's default when that was empty at create).
	Runtime string

	// NetworkSettings are the container's networks and, while it runs,
	// its addresses, published ports and network namespace.
	NetworkSettings NetworkSettings `json:",omitzero"`

	// MountPoints are the container's volumes, binds and --mount tmpfs,
	// by destination, as resolved at create (volumes named, created and
	// referenced). A record from before mount points were kept has none;
	// its HostConfig's binds are parsed again at start.
	MountPoints map[string]*MountPoint `json:",omitempty"`

	// Files the daemon wrote for the container.
	HostnamePath   string `json:",omitempty"`
	HostsPath      string `json:",omitempty"`
	ResolvConfPath string `json:",omitempty"`
	LogPath        string `json:",omitempty"`
}

// Lock locks the record.
func (c *Container) Lock() { c.mu.Lock() }

// Unlock unlocks the record.
func (c *Container) Unlock() { c.mu.Unlock() }

// IsAutoRemove reports whether the container is removed when it exits
// (docker run --rm).
func (c *Container) IsAutoRemove() bool {
	return c.HostConfig != nil && c.HostConfig.AutoRemove
}

// Labels returns the container's labels (never nil).
func (c *Container) Labels() map[string]string {
	if c.Config == nil || c.Config.Labels == nil {
		return map[string]string{}
	}
	return c.Config.Labels
}
