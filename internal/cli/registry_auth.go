package cli

import (
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

// authFor returns the saved credentials for a registry as the AuthConfig
// sent to the daemon.
func (a *app) authFor(domain string) registry.AuthConfig {
	key := configKey(domain)
	user, password, ok := a.config().credentials(key)
	if !ok {
		return registry.AuthConfig{ServerAddress: key}
	}
	return registry.AuthConfig{Username: user, Password: password, ServerAddress: key}
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
