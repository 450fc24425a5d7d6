package cli

import (
	"context"

	"github.com/moby/moby/api/types/registry"
)

// credStore keeps the credentials of registries, as the docker CLI does:
// in config.json's "auths" (fileStore, the default) or in an external
// credential helper named by "credsStore" or "credHelpers" (helperStore).
// Servers are config.json keys: a host[:port], or indexServer for Docker
// Hub.
type credStore interface {
	// get returns the saved credentials of server, with ServerAddress
	// set; none saved is an empty AuthConfig and no error.
	get(ctx context.Context, server string) (registry.AuthConfig, error)
	// store saves ac under ac.ServerAddress. It returns the path of the
	// file that now holds the password in plain text, or "" when it went
	// to a helper, was an identity token, or did not change, so that login
	// warns only when docker would.
	store(ctx context.Context, ac registry.AuthConfig) (plaintextIn string, err error)
	// erase forgets server's credentials; erasing what is not there is
	// not an error.
	erase(ctx context.Context, server string) error
}

// credStore returns the store that keeps server's credentials: the helper
// of credHelpers[server], else that of credsStore, else the file.
func (a *app) credStore(server string) credStore {
	cf := a.config()
	file := fileStore{cf: cf}
	name, ok := cf.CredHelpers[server]
	if !ok || server == "" {
		name = cf.CredsStore
	}
	if name == "" {
		return file
	}
	return helperStore{helper: a.credHelper(name), file: file}
}

// credHelper is the helper program docker-credential-<name>, looked up
// in the CLI's $PATH and reporting its own errors on the CLI's stderr.
func (a *app) credHelper(name string) credHelper {
	return credHelper{program: credHelperPrefix + name, path: a.set.getenv("PATH"), stderr: a.streams.Err}
}

// allCredentials returns every saved credential, keyed by server, as
// docker's GetAllCredentials does (what a build sends for its base
// images): those of the file, or of credsStore, overlaid by those of each
// credHelpers entry. A helper of credHelpers that fails is left out;
// the failure of the default store is an error.
func (a *app) allCredentials(ctx context.Context) (map[string]registry.AuthConfig, error) {
	cf := a.config()
	all := map[string]registry.AuthConfig{}
	if cf.CredsStore != "" {
		h := helperStore{helper: a.credHelper(cf.CredsStore), file: fileStore{cf: cf}}
		servers, err := h.helper.list(ctx)
		if err != nil {
			return nil, err
		}
		for server := range servers {
			ac, err := h.get(ctx, server)
			if err != nil {
				return nil, err
			}
			all[server] = ac
		}
	} else {
		for server := range cf.Auths {
			ac, _ := fileStore{cf: cf}.get(ctx, server)
			all[server] = ac
		}
	}
	for server := range cf.CredHelpers {
		ac, err := a.credStore(server).get(ctx, server)
		if err != nil {
			a.log.Warn("failed to get credentials for registry", "registry", server, "err", err)
			continue
		}
		all[server] = ac
	}
	return all, nil
}
