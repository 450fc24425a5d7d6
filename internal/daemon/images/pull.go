package images

import (
	"context"
	"io"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/transfer"
)

// ImagePull is POST /images/create?fromImage=: docker pull of ref (a
// name, with a tag or digest or neither) and opts.Tag (a tag or a digest),
// with docker's progress stream on out.
func (s *Service) ImagePull(ctx context.Context, ref string, opts server.ImagePullOptions, out io.Writer) error {
	named, err := pullReference(ref, opts.Tag)
	if err != nil {
		return err
	}
	topts, err := s.transferOptions(opts.Auth)
	if err != nil {
		return err
	}
	if opts.Platform != "" {
		p, err := image.ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		topts = append(topts, transfer.WithPlatform(p.OCI()))
	}
	st := newStream(out)
	topts = append(topts, transfer.WithProgressWriter(st))
	if _, err := transfer.Pull(ctx, s.client, s.store, named.String(), topts...); err != nil {
		return st.fail(err)
	}
	s.event(ctx, events.ActionPull, reference.FamiliarString(named), reference.FamiliarName(named))
	return nil
}

// pullReference joins fromImage and tag as dockerd does: the tag may be
// a digest; a name with neither is :latest (docker pull -a, which sends
// none, is not supported: there is no tag listing yet).
func pullReference(ref, tag string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimSuffix(ref, ":"))
	if err != nil {
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid reference format: %s: %v", ref, err)
	}
	if tag != "" {
		if d, derr := digest.Parse(tag); derr == nil {
			named, err = reference.WithDigest(reference.TrimNamed(named), d)
		} else {
			named, err = reference.WithTag(reference.TrimNamed(named), tag)
		}
		if err != nil {
			return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid tag %q: %v", tag, err)
		}
	}
	if reference.FamiliarName(named) == "scratch" {
		return nil, errdefs.Errorf(errdefs.ErrForbidden, "'scratch' is a reserved name")
	}
	return reference.TagNameOnly(named), nil
}

// transferOptions are the registry settings of one pull or push: the
// request's credentials when it sent some, else the docker config file's.
func (s *Service) transferOptions(auth *registry.AuthConfig) ([]transfer.Opt, error) {
	var dopts []distribution.Option
	if s.opts.ConfigDir != "" && !hasCredentials(auth) {
		dopts = append(dopts, distribution.WithConfigDir(s.opts.ConfigDir))
	}
	opts := []transfer.Opt{transfer.WithDistributionOptions(dopts...)}
	if hasCredentials(auth) {
		opts = append(opts, transfer.WithAuth(*auth))
	}
	return opts, nil
}

// hasCredentials: the docker CLI sends an X-Registry-Auth header even
// with nothing in it ("{}"); that means "use what the daemon has".
func hasCredentials(a *registry.AuthConfig) bool {
	return a != nil && (a.Username != "" || a.Password != "" || a.Auth != "" || a.IdentityToken != "" || a.RegistryToken != "")
}
