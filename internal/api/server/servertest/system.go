package servertest

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
)

type eventRecord struct {
	msg events.Message
}

// publish records an event and wakes subscribers. f.mu must be held.
func (f *Fake) publish(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := time.Now().UTC()
	f.events = append(f.events, eventRecord{msg: events.Message{
		Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs},
		Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano(),
	}})
	close(f.eventsCh)
	f.eventsCh = make(chan struct{})
}

// Info reports counts of the fake's containers and images.
func (f *Fake) Info(ctx context.Context) (system.Info, error) {
	if err := f.enter("Info", "", nil); err != nil {
		return system.Info{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	info := system.Info{ID: "fake", Name: "servertest", OSType: "linux", Architecture: "x86_64",
		Driver: "overlay", ServerVersion: "0.0.0-fake", Images: len(f.uniqueImages()), NCPU: 2, MemTotal: 1 << 30}
	for _, c := range f.containers {
		info.Containers++
		switch c.state {
		case container.StateRunning:
			info.ContainersRunning++
		case container.StatePaused:
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
	}
	return info, nil
}

// Version reports a made-up engine.
func (f *Fake) Version(ctx context.Context) (system.VersionResponse, error) {
	if err := f.enter("Version", "", nil); err != nil {
		return system.VersionResponse{}, err
	}
	return system.VersionResponse{Platform: system.PlatformInfo{Name: "Berth fake"}, Version: "0.0.0-fake",
		GoVersion: "go", KernelVersion: "fake",
		Components: []system.ComponentVersion{{Name: "Engine", Version: "0.0.0-fake"}}}, nil
}

// DiskUsage reports the fake's images and containers.
func (f *Fake) DiskUsage(ctx context.Context, opts server.DiskUsageOptions) (system.DiskUsage, error) {
	if err := f.enter("DiskUsage", "", opts); err != nil {
		return system.DiskUsage{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var du system.DiskUsage
	iu := &image.DiskUsage{}
	for _, img := range f.uniqueImages() {
		iu.Items = append(iu.Items, img.summary())
		iu.TotalCount++
		iu.TotalSize += img.size
	}
	cu := &container.DiskUsage{}
	for _, c := range f.containers {
		cu.Items = append(cu.Items, c.summary())
		cu.TotalCount++
	}
	du.ImageUsage, du.ContainerUsage = iu, cu
	du.VolumeUsage = f.volumeUsage()
	return du, nil
}

// Events sends the recorded events in [Since, Until], then new ones until
// Until passes or ctx ends. It understands the filter "type".
func (f *Fake) Events(ctx context.Context, opts server.EventsOptions, send func(events.Message) error) error {
	if err := f.enter("Events", "", opts); err != nil {
		return err
	}
	keep := func(m events.Message) bool {
		t := time.Unix(0, m.TimeNano)
		if !opts.Since.IsZero() && t.Before(opts.Since) {
			return false
		}
		if !opts.Until.IsZero() && t.After(opts.Until) {
			return false
		}
		types := opts.Filters["type"]
		return len(types) == 0 || contains(types, string(m.Type))
	}
	var deadline <-chan time.Time
	if !opts.Until.IsZero() {
		timer := time.NewTimer(time.Until(opts.Until))
		defer timer.Stop()
		deadline = timer.C
	}
	sent := 0
	for {
		f.mu.Lock()
		fresh := append([]eventRecord(nil), f.events[sent:]...)
		sent = len(f.events)
		wake := f.eventsCh
		f.mu.Unlock()
		for _, e := range fresh {
			if keep(e.msg) {
				if err := send(e.msg); err != nil {
					return err
				}
			}
		}
		if !opts.Until.IsZero() && !time.Now().Before(opts.Until) {
			return nil
		}
		select {
		case <-wake:
		case <-deadline:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Login accepts any user but "bad".
func (f *Fake) Login(ctx context.Context, auth registry.AuthConfig) (string, string, error) {
	if err := f.enter("Login", auth.Username, auth); err != nil {
		return "", "", err
	}
	if auth.Username == "bad" {
		return "", "", errdefs.Errorf(errdefs.ErrUnauthorized, "login attempt to %s failed with status: 401 Unauthorized", auth.ServerAddress)
	}
	return "Login Succeeded", "", nil
}
