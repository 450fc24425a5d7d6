package cli

import (
	"context"
	"encoding/base64"
	"net"
	"net/url"
	"strings"

	"github.com/moby/moby/api/types/registry"
)

// fileStore keeps credentials in config.json's "auths", base64'd but not
// encrypted: docker's default when no credential helper is configured.
type fileStore struct{ cf *configFile }

func (s fileStore) get(_ context.Context, server string) (registry.AuthConfig, error) {
	ac, ok := s.cf.fileAuth(server)
	if ok {
		ac.ServerAddress = server
	}
	return ac, nil
}

func (s fileStore) store(_ context.Context, ac registry.AuthConfig) (string, error) {
	old, existed := s.cf.Auths[ac.ServerAddress]
	e := authEntry{IdentityToken: ac.IdentityToken, other: old.other}
	if ac.Username != "" || ac.Password != "" {
		e.Auth = encodeAuth(ac.Username, ac.Password)
	}
	if existed && old.Auth == e.Auth && old.IdentityToken == e.IdentityToken {
		// As docker: an unchanged login neither rewrites the file nor warns.
		return "", nil
	}
	s.cf.Auths[ac.ServerAddress] = e
	if err := s.cf.save(); err != nil {
		return "", err
	}
	if ac.Password == "" {
		return "", nil
	}
	return s.cf.path, nil
}

func (s fileStore) erase(_ context.Context, server string) error {
	if _, ok := s.cf.Auths[server]; !ok {
		return nil
	}
	delete(s.cf.Auths, server)
	return s.cf.save()
}

// fileAuth decodes server's entry of "auths". An entry saved under a URL
// by an older CLI ("https://host/v1/") is found by its host, as docker
// finds it. An "auth" that does not decode reads as no credentials.
func (cf *configFile) fileAuth(server string) (registry.AuthConfig, bool) {
	e, ok := cf.Auths[server]
	if !ok {
		for key, legacy := range cf.Auths {
			if strings.Contains(key, "://") && urlHost(key) == server {
				e, ok = legacy, true
				break
			}
		}
	}
	if !ok {
		return registry.AuthConfig{}, false
	}
	ac := registry.AuthConfig{IdentityToken: e.IdentityToken}
	if raw, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
		if user, password, found := strings.Cut(string(raw), ":"); found {
			ac.Username, ac.Password = user, strings.Trim(password, "\x00")
		}
	}
	return ac, true
}

// urlHost is the host[:port] of a registry URL, or key itself when it is
// not one.
func urlHost(key string) string {
	u, err := url.Parse(key)
	if err != nil || u.Hostname() == "" {
		return key
	}
	if u.Port() == "" {
		return u.Hostname()
	}
	return net.JoinHostPort(u.Hostname(), u.Port())
}
