package cli

import (
	"context"
	"fmt"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// indexServer is the config.json key docker uses for Docker Hub.
const indexServer = "https://index.docker.io/v1/"

// configKey is the config.json key for a registry host.
func configKey(domain string) string {
	if domain == "docker.io" || domain == "index.docker.io" || domain == "registry-1.docker.io" {
		return indexServer
	}
	return domain
}

// registryAuth returns the saved credentials for a registry (a domain as
// in an image reference) as the AuthConfig sent to the daemon, read from
// the registry's credential helper or from config.json. No saved
// credentials is an empty AuthConfig, which the docker CLI sends too.
func (a *app) registryAuth(ctx context.Context, domain string) (registry.AuthConfig, error) {
	key := configKey(domain)
	return a.credStore(key).get(ctx, key)
}

// authFor is registryAuth for the commands that send credentials along
// (pull, push, search). As the docker CLI, they go on without them when
// the helper fails (a public image needs none), but berth says why, so
// that a registry's "unauthorized" that follows is not a mystery.
func (a *app) authFor(domain string) registry.AuthConfig {
	ctx := context.Background()
	if a.root != nil && a.root.Context() != nil {
		ctx = a.root.Context()
	}
	ac, err := a.registryAuth(ctx, domain)
	if err != nil {
		fmt.Fprintf(a.streams.Err, "WARNING: %v\n", err)
	}
	return ac
}

// encodedAuthFor is the X-Registry-Auth value for an image reference: the
// saved credentials of its registry, or an empty config when there are
// none, as the docker CLI sends.
func (a *app) encodedAuthFor(image string) (string, error) {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", err
	}
	return authconfig.Encode(a.authFor(reference.Domain(ref)))
}
