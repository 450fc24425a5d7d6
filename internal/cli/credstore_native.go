package cli

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/registry"
)

// identityTokenUser is the user name under which docker keeps an identity
// token (a registry's refresh token) in a credential helper, the token
// being the secret.
const identityTokenUser = "<token>"

// helperStore keeps credentials in a credential helper. As with docker,
// config.json still gets an empty "auths" entry for each server logged
// in to, which records the login without any secret.
type helperStore struct {
	helper credHelper
	file   fileStore
}

func (s helperStore) get(ctx context.Context, server string) (registry.AuthConfig, error) {
	creds, err := s.helper.get(ctx, server)
	if errors.Is(err, errCredentialsNotFound) {
		// Not logged in, as with no entry in the file.
		return registry.AuthConfig{}, nil
	}
	if err != nil {
		return registry.AuthConfig{}, err
	}
	ac := registry.AuthConfig{ServerAddress: server}
	if creds.Username == identityTokenUser {
		ac.IdentityToken = creds.Secret
	} else {
		ac.Username, ac.Password = creds.Username, creds.Secret
	}
	return ac, nil
}

func (s helperStore) store(ctx context.Context, ac registry.AuthConfig) (string, error) {
	creds := helperCredentials{ServerURL: ac.ServerAddress, Username: ac.Username, Secret: ac.Password}
	if ac.IdentityToken != "" {
		creds.Username, creds.Secret = identityTokenUser, ac.IdentityToken
	}
	if err := s.helper.store(ctx, creds); err != nil {
		return "", err
	}
	// The entry drops any secret an earlier plain-text login left there.
	_, err := s.file.store(ctx, registry.AuthConfig{ServerAddress: ac.ServerAddress})
	return "", err
}

// erase erases from the helper first: if that fails, the file's entry
// stays, so the login is still on record and can be retried.
func (s helperStore) erase(ctx context.Context, server string) error {
	if err := s.helper.erase(ctx, server); err != nil {
		return err
	}
	return s.file.erase(ctx, server)
}
