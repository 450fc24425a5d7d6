package daemon

import (
	"maps"
	"slices"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/image"
)

// commitConfig is the runtime config of a committed image, as dockerd
// makes it: the request's config (body) or else the container's, the
// changes applied on it as Dockerfile instructions (docker's
// BuildFromConfig: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL,
// ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR; anything else is
// InvalidParameter), then what it lacks taken from the container's
// (commitMerge).
func commitConfig(ctr, body *containertypes.Config, changes []string) (dockerspec.DockerOCIImageConfig, error) {
	base := ctr
	if body != nil {
		base = body
	}
	cfg := imageConfigOf(base)
	if err := image.ApplyChanges(&cfg, changes); err != nil {
		return dockerspec.DockerOCIImageConfig{}, err
	}
	commitMerge(&cfg, imageConfigOf(ctr))
	return cfg, nil
}

// imageConfigOf is the image config's part of a container config, every
// slice and map copied.
func imageConfigOf(c *containertypes.Config) dockerspec.DockerOCIImageConfig {
	var out dockerspec.DockerOCIImageConfig
	if c == nil {
		return out
	}
	out.User = c.User
	if c.ExposedPorts != nil {
		out.ExposedPorts = make(map[string]struct{}, len(c.ExposedPorts))
		for p := range c.ExposedPorts {
			out.ExposedPorts[p.String()] = struct{}{}
		}
	}
	out.Env = slices.Clone(c.Env)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.Cmd = slices.Clone(c.Cmd)
	out.Volumes = maps.Clone(c.Volumes)
	out.WorkingDir = c.WorkingDir
	out.Labels = maps.Clone(c.Labels)
	out.StopSignal = c.StopSignal
	if h := c.Healthcheck; h != nil {
		hc := *h
		hc.Test = slices.Clone(h.Test)
		out.Healthcheck = &hc
	}
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Shell = slices.Clone(c.Shell)
	return out
}

// commitMerge fills what the new config lacks from the container's, by
// dockerd's merge (daemon/commit.go): the user, the workdir and the stop
// signal when unset; exposed ports, volumes and labels united (the new
// config's labels win); the container's environment entries whose names
// the new config lacks, appended; the command and entrypoint when the new
// config sets no entrypoint (the command only when it sets none either);
// the health check's unset fields.
func commitMerge(user *dockerspec.DockerOCIImageConfig, ctr dockerspec.DockerOCIImageConfig) {
	if user.User == "" {
		user.User = ctr.User
	}
	if len(user.ExposedPorts) == 0 {
		user.ExposedPorts = ctr.ExposedPorts
	} else {
		for p := range ctr.ExposedPorts {
			user.ExposedPorts[p] = struct{}{}
		}
	}
	if len(user.Env) == 0 {
		user.Env = ctr.Env
	} else {
		for _, e := range ctr.Env {
			k, _, _ := strings.Cut(e, "=")
			if !slices.ContainsFunc(user.Env, func(u string) bool {
				uk, _, _ := strings.Cut(u, "=")
				return uk == k
			}) {
				user.Env = append(user.Env, e)
			}
		}
	}
	if user.Labels == nil {
		user.Labels = map[string]string{}
	}
	for k, v := range ctr.Labels {
		if _, ok := user.Labels[k]; !ok {
			user.Labels[k] = v
		}
	}
	if len(user.Entrypoint) == 0 {
		if len(user.Cmd) == 0 {
			user.Cmd = ctr.Cmd
		}
		if user.Entrypoint == nil {
			user.Entrypoint = ctr.Entrypoint
		}
	}
	user.Healthcheck = mergeHealthcheck(user.Healthcheck, ctr.Healthcheck)
	if user.WorkingDir == "" {
		user.WorkingDir = ctr.WorkingDir
	}
	if len(user.Volumes) == 0 {
		user.Volumes = ctr.Volumes
	} else {
		maps.Copy(user.Volumes, ctr.Volumes)
	}
	if user.StopSignal == "" {
		user.StopSignal = ctr.StopSignal
	}
}
