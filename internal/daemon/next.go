package daemon

import (
	"context"
	"os"
	"reflect"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
)

// The next container. `docker run --rm` is often the same request again
// and again (a CI step, a benchmark, a script's loop). Once such a
// container has exited of its own accord and its removal is answered (an
// rm -f, or a removal before any start, prepares nothing), the daemon
// prepares one more like it,
// in the background: an id chosen ahead, its directory and files, its
// snapshot, and its start's first half (prestart.go: the mount, the
// network, the spec, the shim with the runtime's create). It is no
// container yet: no record, no name, no event, in no list. A create whose
// request is the same (config, host config, networking, platform; the
// name aside) for the same image takes it: it reserves the name, writes
// the record and publishes it, and its start finds the prestart done,
// where the client's create-to-start gap (a few milliseconds of the
// docker CLI's own) was too short for it on a small host.
//
// Only auto-remove containers without mount points, in network mode none
// or host, joining no other container's namespaces, are prepared: their
// start has nothing the daemon would allocate ahead that a user could
// see (volumes, addresses). One at a time; it is dropped after nextTTL,
// at the daemon's shutdown, before image deletion, prune and disk usage
// (SettleRemovals), and when a different request is prepared. A crash
// leaves a directory without record, a snapshot without record and a
// shim without record, which the next start removes as it does for a
// create the crash interrupted.

// nextDelay is how long after the removal that asks for it a container
// is prepared: the client then has its answer. Most of the preparation
// (the shim's create: the runtime's and the init's work) runs at the
// pool's background priority until a create claims it, so it may begin
// at once and soak up what the next client's start (some 10 ms of the
// docker CLI's, one core of two) leaves idle: begun later, it was often
// unfinished when the start came, which then waited for it. Interleaved
// A/B of docker run --rm, 4 rounds of 100: 18.0 ms against 18.6 ms with
// 6 ms, the delay before the background priority.
const nextDelay = 1 * time.Millisecond

// nextTTL is how long a prepared container waits for its create. It is
// below prestartTTL, whose clock runs from the prestart's end: a taken
// one leaves its start at least the difference.
const nextTTL = prestartTTL / 2

// nextContainer is a container prepared ahead for req.
type nextContainer struct {
	req      server.ContainerCreateRequest
	c        *container.Container
	r        *run
	warnings []string
	expiry   *time.Timer
}

// nextSlot holds the prepared container, or the one being prepared.
type nextSlot struct {
	mu       sync.Mutex
	n        *nextContainer
	building bool
	closed   bool
	gen      uint64 // counts drops, so that a build overtaken by one is dropped too
}

// nextFits says whether a container created from req may be prepared
// ahead for the same request (see above).
func nextFits(c *container.Container, req server.ContainerCreateRequest) bool {
	h := c.HostConfig
	return h.AutoRemove && len(c.MountPoints) == 0 &&
		(h.NetworkMode.IsNone() || h.NetworkMode.IsHost()) &&
		!h.PidMode.IsContainer() && !h.IpcMode.IsContainer() &&
		req.Config != nil && req.Host != nil
}

// sameRequest compares two create requests but for the name.
func sameRequest(a, b server.ContainerCreateRequest) bool {
	return a.Platform == b.Platform && reflect.DeepEqual(a.Config, b.Config) &&
		reflect.DeepEqual(a.Host, b.Host) && reflect.DeepEqual(a.Networking, b.Networking)
}

// prepareNext prepares a container for req in the background, unless one
// is prepared or under way for it.
func (d *Daemon) prepareNext(req server.ContainerCreateRequest) {
	s := &d.next
	s.mu.Lock()
	if s.closed || s.building || (s.n != nil && sameRequest(s.n.req, req)) || d.isClosing() {
		s.mu.Unlock()
		return
	}
	s.building = true
	gen := s.gen
	s.mu.Unlock()
	req.Name = ""
	d.bg.Add(1)
	time.AfterFunc(nextDelay, func() {
		defer d.bg.Done()
		n, err := d.buildNext(req)
		s.mu.Lock()
		s.building = false
		if err != nil {
			s.mu.Unlock()
			d.log.Debug("prepare the next container", "err", err)
			return
		}
		if s.closed || s.gen != gen {
			s.mu.Unlock()
			d.dropNext(n)
			return
		}
		old := s.n
		s.n = n
		n.expiry = time.AfterFunc(nextTTL, func() { d.expireNext(n) })
		s.mu.Unlock()
		if old != nil {
			old.expiry.Stop()
			d.dropNext(old)
		}
	})
}

// buildNext makes the container and begins its prestart.
func (d *Daemon) buildNext(req server.ContainerCreateRequest) (*nextContainer, error) {
	c, warnings, _, err := d.create(context.Background(), req, true)
	if err != nil {
		return nil, err
	}
	r := newRun(c)
	r.nextReq = &req
	c.Lock()
	d.prestart(c, r, true)
	c.Unlock()
	return &nextContainer{req: req, c: c, r: r, warnings: warnings}, nil
}

// claimNext gives the create of req the prepared container, if it was
// prepared for the same request and the image req names is still the one
// it was made from. ok is false when the create must do its own work.
func (d *Daemon) claimNext(ctx context.Context, req server.ContainerCreateRequest) (_ containertypes.CreateResponse, ok bool, _ error) {
	s := &d.next
	s.mu.Lock()
	n := s.n
	if n == nil || !sameRequest(n.req, req) {
		s.mu.Unlock()
		return containertypes.CreateResponse{}, false, nil
	}
	s.n = nil
	n.expiry.Stop()
	s.mu.Unlock()
	if !d.sameImage(ctx, req.Config.Image, n.c.Image) {
		d.dropNextSoon(n)
		return containertypes.CreateResponse{}, false, nil
	}
	c := n.c
	c.Lock()
	// Its start follows within milliseconds: what is left of the
	// prestart is on that start's path now.
	if hurry := n.r.hurryPrestart; hurry != nil {
		hurry()
	}
	c.Name = req.Name
	c.Created = time.Now().UTC()
	err := d.containers.Adopt(c)
	c.Unlock()
	if err != nil {
		// A taken or invalid name: the create fails as it would have.
		d.dropNextSoon(n)
		return containertypes.CreateResponse{}, true, err
	}
	d.mu.Lock()
	d.runs[c.ID] = n.r
	d.mu.Unlock()
	c.Lock()
	d.emit(c, "create", nil)
	c.Unlock()
	return containertypes.CreateResponse{ID: c.ID, Warnings: n.warnings}, true, nil
}

// sameImage says whether ref still names the image id.
func (d *Daemon) sameImage(ctx context.Context, ref string, id digest.Digest) bool {
	img, err := d.images.Get(ctx, ref)
	if err != nil {
		return false
	}
	res, err := d.images.Resolve(ctx, img)
	return err == nil && res.ID() == id
}

// expireNext drops n if no create took it.
func (d *Daemon) expireNext(n *nextContainer) {
	s := &d.next
	s.mu.Lock()
	mine := s.n == n
	if mine {
		s.n = nil
	}
	s.mu.Unlock()
	if mine {
		d.dropNext(n)
	}
}

// dropNextSoon drops n in the background, off its caller's path.
func (d *Daemon) dropNextSoon(n *nextContainer) {
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		d.dropNext(n)
	}()
}

// dropNext undoes a prepared container: its prestart, snapshot and
// directory.
func (d *Daemon) dropNext(n *nextContainer) {
	ctx := context.Background()
	// Unmounted, task deleted, bundle and shim state gone (a prestart
	// that failed undid itself).
	d.dropPrestart(ctx, n.c, n.r)
	if err := d.snapshots.Remove(ctx, n.c.SnapshotKey); err != nil {
		d.log.Warn("drop the next container: remove its snapshot", "container", n.c.ID, "err", err)
	}
	if err := os.RemoveAll(d.containers.Dir(n.c.ID)); err != nil {
		d.log.Warn("drop the next container: remove its directory", "container", n.c.ID, "err", err)
	}
}

// dropNextContainer drops the prepared container, and any being prepared
// when it is ready; closing, it prepares none again.
func (d *Daemon) dropNextContainer(closing bool) {
	s := &d.next
	s.mu.Lock()
	n := s.n
	s.n = nil
	s.gen++
	if closing {
		s.closed = true
	}
	s.mu.Unlock()
	if n != nil {
		n.expiry.Stop()
		d.dropNext(n)
	}
}
