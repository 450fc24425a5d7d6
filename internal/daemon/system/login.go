package system

import (
	"context"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/errdefs"
)

// Login is POST /auth: it checks the credentials against the registry
// (ServerAddress; empty is Docker Hub) with the registry client the image
// service configured (insecure registries, mirrors), and answers "Login
// Succeeded" with the identity token the registry issued, if any. It
// stores nothing: the client keeps the credentials.
func (s *Service) Login(ctx context.Context, auth registry.AuthConfig) (status, identityToken string, err error) {
	if s.opts.Images == nil {
		return "", "", errdefs.Errorf(errdefs.ErrNotImplemented, "login: no registry client")
	}
	resp, err := s.opts.Images.Client().Login(ctx, auth.ServerAddress, auth)
	if err != nil {
		return "", "", err
	}
	return resp.Status, resp.IdentityToken, nil
}
