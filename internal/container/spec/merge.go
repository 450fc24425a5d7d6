package spec

import (
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MergeImageConfig fills cfg from the image's config by docker's create-time
// rules, so that cfg is what `docker inspect` shows:
//   - User and WorkingDir come from the image when cfg leaves them empty;
//     StopSignal too.
//   - Env is the image's with cfg's entries winning by name.
//   - An Entrypoint in cfg replaces the image's and also drops the image's
//     Cmd (only cfg's Cmd follows it). Without one, the image's Entrypoint
//     stays and cfg's Cmd (or else the image's) follows.
//   - Entrypoint [""] (docker run --entrypoint "") resets it to none.
//   - Image volumes and exposed ports are added to cfg's.
//
// A config with neither entrypoint nor command after merging is
// InvalidParameter "no command specified".
func MergeImageConfig(cfg *container.Config, img ocispec.ImageConfig) error {
	if cfg.User == "" {
		cfg.User = img.User
	}
	cfg.Env = mergeEnv(img.Env, cfg.Env)
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = append([]string(nil), img.Cmd...)
		}
		// nil means "not given"; an empty, non-nil entrypoint is the API's
		// way to say "none", and keeps the image's out.
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = append([]string(nil), img.Entrypoint...)
		}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = img.WorkingDir
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = img.StopSignal
	}
	if len(cfg.Volumes) == 0 {
		// As docker: the CLI's empty map gives way to the image's, so
		// inspect shows null when neither has any.
		cfg.Volumes = nil
	}
	for v := range img.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	for p := range img.ExposedPorts {
		port, err := network.ParsePort(p)
		if err != nil {
			continue // an image's bad port is the image's problem, not the run's
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	if len(img.Labels) > 0 && cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for k, v := range img.Labels {
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		cfg.Entrypoint = nil
	}
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "no command specified")
	}
	return nil
}

// mergeEnv returns the image's environment with the user's entries
// replacing the image's of the same name and the rest appended (docker's
// merge: user entries first, then image entries the user did not name).
func mergeEnv(image, user []string) []string {
	if len(user) == 0 {
		return append([]string(nil), image...)
	}
	out := append([]string(nil), user...)
	for _, ie := range image {
		name, _, _ := strings.Cut(ie, "=")
		found := false
		for _, ue := range user {
			if un, _, _ := strings.Cut(ue, "="); un == name {
				found = true
				break
			}
		}
		if !found {
			out = append(out, ie)
		}
	}
	return out
}

// entrypointAndArgs is the process's argv: the entrypoint followed by the
// command, or the command alone.
func entrypointAndArgs(entrypoint, cmd []string) []string {
	args := make([]string, 0, len(entrypoint)+len(cmd))
	args = append(args, entrypoint...)
	return append(args, cmd...)
}
