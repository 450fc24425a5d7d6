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
//
// A name with neither tag nor digest, and no opts.Tag, is docker pull
// --all-tags, as dockerd takes it: every tag of the repository.
func (s *Service) ImagePull(ctx context.Context, ref string, opts server.ImagePullOptions, out io.Writer) error {
	if opts.Tag == "" {
		if named, err := reference.ParseNormalizedNamed(strings.TrimSuffix(ref, ":")); err == nil && reference.IsNameOnly(named) {
			return s.pullAllTags(ctx, named, opts, out)
		}
	}
	named, err := pullReference(ref, opts.Tag)
	if err != nil {
		return err
	}
	return s.pull(ctx, named, opts, newStream(out))
}

// pull pulls one reference onto st.
func (s *Service) pull(ctx context.Context, named reference.Named, opts server.ImagePullOptions, st *stream) error {
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
	topts = append(topts, transfer.WithProgressWriter(st))
	if _, err := transfer.Pull(ctx, s.client, s.store, named.String(), topts...); err != nil {
		return st.fail(registryRefusal(err))
	}
	s.event(ctx, events.ActionPull, reference.FamiliarString(named), reference.FamiliarName(named))
	return nil
}

// pullAllTags pulls every tag of named's repository, one after the other
// on one progress stream, as dockerd does for docker pull --all-tags.
func (s *Service) pullAllTags(ctx context.Context, named reference.Named, opts server.ImagePullOptions, out io.Writer) error {
	if reference.FamiliarName(named) == "scratch" {
		return errdefs.Errorf(errdefs.ErrForbidden, "'scratch' is a reserved name")
	}
	if opts.Platform != "" {
		if _, err := image.ParsePlatform(opts.Platform); err != nil {
			return err
		}
	}
	st := newStream(out)
	var dopts []distribution.Option
	if s.opts.ConfigDir != "" && !hasCredentials(opts.Auth) {
		dopts = append(dopts, distribution.WithConfigDir(s.opts.ConfigDir))
	}
	if hasCredentials(opts.Auth) {
		dopts = append(dopts, distribution.WithAuth(*opts.Auth))
	}
	tags, err := s.client.Tags(ctx, named.String(), dopts...)
	if err != nil {
		return st.fail(registryRefusal(err))
	}
	if len(tags) == 0 {
		return st.fail(errdefs.Errorf(errdefs.ErrNotFound, "no tags found for %s", reference.FamiliarName(named)))
	}
	for _, tag := range tags {
		tagged, err := reference.WithTag(named, tag)
		if err != nil {
			// A registry listing a tag docker cannot name: skip it.
			continue
		}
		if err := s.pull(ctx, tagged, opts, st); err != nil {
			return err
		}
	}
	return nil
}

// registryRefusal keeps a registry's 401 from becoming the daemon's.
// dockerd answers a pull or push the registry refused with a 500, and the
// docker CLI reads a 401 from the daemon as its cue to prompt for a login
// ("Login prior to pull:"), so that docker pull would wait for a user
// name, even with no terminal. The message is kept.
func registryRefusal(err error) error {
	if !errdefs.IsUnauthorized(err) {
		return err
	}
	return &refusedError{msg: err.Error()}
}

// refusedError is a registry's refusal of credentials, of no errdefs
// class: the API answers it as dockerd does, with a 500.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

// pullReference joins fromImage and tag as dockerd does: the tag may be
// a digest; a name with neither is :latest (callers take a name alone with
// no tag as --all-tags first).
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
