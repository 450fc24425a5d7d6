package daemon

import (
	"strings"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container/spec"
	"github.com/berth-project/berth/internal/daemon/config"
	"github.com/berth-project/berth/internal/errdefs"
)

// createCheck is one named check of a create request, run before anything
// is touched (STYLE rule 13). Checks may normalize what they check.
type createCheck struct {
	name string
	fn   func(d *Daemon, cfg *containertypes.Config, host *containertypes.HostConfig) error
}

var createChecks = []createCheck{
	{"restart policy", checkRestartPolicy},
	{"runtime", checkRuntime},
	{"log config", checkLogConfig},
	{"healthcheck", checkHealthcheck},
	{"stop signal", checkStopSignal},
	{"stop timeout", checkStopTimeout},
	{"settings", checkSettings},
	{"joined containers", checkJoinedContainers},
	{"links", checkLinks},
	{"device requests", checkDeviceRequests},
}

func (d *Daemon) validateCreate(cfg *containertypes.Config, host *containertypes.HostConfig) ([]string, error) {
	var warnings []string
	for _, ch := range createChecks {
		if err := ch.fn(d, cfg, host); err != nil {
			return nil, err
		}
	}
	return warnings, nil
}

func checkRestartPolicy(_ *Daemon, _ *containertypes.Config, host *containertypes.HostConfig) error {
	p := &host.RestartPolicy
	switch p.Name {
	case "":
		p.Name = containertypes.RestartPolicyDisabled
	case containertypes.RestartPolicyDisabled, containertypes.RestartPolicyAlways,
		containertypes.RestartPolicyUnlessStopped, containertypes.RestartPolicyOnFailure:
	default:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", p.Name)
	}
	if p.MaximumRetryCount < 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid restart policy: maximum retry count cannot be negative")
	}
	if p.MaximumRetryCount > 0 && p.Name != containertypes.RestartPolicyOnFailure {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid restart policy: maximum retry count can only be used with 'on-failure'")
	}
	if host.AutoRemove && p.Name != containertypes.RestartPolicyDisabled {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "can't create 'AutoRemove' container with restart policy")
	}
	return nil
}

func checkRuntime(d *Daemon, _ *containertypes.Config, host *containertypes.HostConfig) error {
	if host.Runtime == "" {
		host.Runtime = d.cfg.DefaultRuntime
	}
	if _, ok := d.runtimes[host.Runtime]; !ok {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown or invalid runtime name: %s", host.Runtime)
	}
	return nil
}

func checkLogConfig(d *Daemon, _ *containertypes.Config, host *containertypes.HostConfig) error {
	lc := &host.LogConfig
	if lc.Type == "" {
		lc.Type = d.cfg.LogDriver
		if len(lc.Config) == 0 {
			lc.Config = d.cfg.LogOpts
		}
	}
	switch lc.Type {
	case "json-file", "local", "none":
	default:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "logger: no log driver named '%s' is registered", lc.Type)
	}
	if err := config.ValidateLogOpts(lc.Type, lc.Config); err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
	}
	return nil
}

func checkHealthcheck(_ *Daemon, cfg *containertypes.Config, _ *containertypes.HostConfig) error {
	h := cfg.Healthcheck
	if h == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if f.v != 0 && f.v < containertypes.MinimumDuration {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "%s in Healthcheck cannot be less than %s", f.name, containertypes.MinimumDuration)
		}
	}
	if h.Retries < 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "Retries in Healthcheck cannot be negative")
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE", "CMD", "CMD-SHELL":
		default:
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown Healthcheck type %q (NONE, CMD, CMD-SHELL)", h.Test[0])
		}
	}
	return nil
}

func checkStopSignal(_ *Daemon, cfg *containertypes.Config, _ *containertypes.HostConfig) error {
	if cfg.StopSignal == "" {
		return nil
	}
	if _, err := parseSignal(cfg.StopSignal); err != nil {
		return err
	}
	return nil
}

func checkStopTimeout(_ *Daemon, cfg *containertypes.Config, _ *containertypes.HostConfig) error {
	if cfg.StopTimeout != nil && *cfg.StopTimeout < -1 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid stop timeout %d", *cfg.StopTimeout)
	}
	return nil
}

func checkSettings(_ *Daemon, cfg *containertypes.Config, host *containertypes.HostConfig) error {
	return spec.CheckSettings(cfg, host)
}

// checkJoinedContainers: --pid and --ipc container:<x> name a container
// that must exist when this one is created, as dockerd has it. The error
// is InvalidParameter (400), not NotFound: the docker CLI takes a 404 from
// create for a missing image and would try to pull it.
func checkJoinedContainers(d *Daemon, _ *containertypes.Config, host *containertypes.HostConfig) error {
	for _, target := range []string{host.PidMode.Container(), host.IpcMode.Container()} {
		if target == "" {
			continue
		}
		if _, err := d.containers.Get(target); err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
		}
	}
	return nil
}

// checkLinks: a --link names a container that must exist (400, as
// checkJoinedContainers explains), with dockerd's words.
func checkLinks(d *Daemon, _ *containertypes.Config, host *containertypes.HostConfig) error {
	for _, l := range host.Links {
		name, _, _ := strings.Cut(l, ":")
		name = strings.TrimPrefix(name, "/")
		if _, err := d.containers.Get(name); err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "could not get container for %s: %v", name, err)
		}
	}
	return nil
}

// checkDeviceRequests refuses --gpus and other device requests with
// dockerd's words for a request no driver can serve: Berth has no device
// drivers, and a container that silently ran without its GPU would be
// worse than none.
func checkDeviceRequests(_ *Daemon, _ *containertypes.Config, host *containertypes.HostConfig) error {
	if len(host.DeviceRequests) == 0 {
		return nil
	}
	req := host.DeviceRequests[0]
	return errdefs.Errorf(errdefs.ErrInvalidParameter, "could not select device driver %q with capabilities: %v", req.Driver, req.Capabilities)
}
