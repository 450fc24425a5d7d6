package images

import (
	"context"
	"io"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// ImageImport is POST /images/create?fromSrc=: docker import of a root
// filesystem tarball (plain or compressed) read from src, as one layer,
// with Dockerfile changes applied to its config. It answers, as dockerd
// does, with one {"status":"sha256:<id>"} message.
func (s *Service) ImageImport(ctx context.Context, src io.Reader, opts server.ImageImportOptions, out io.Writer) error {
	var iopts []image.ImportOpt
	if opts.Repo != "" {
		named, err := reference.ParseNormalizedNamed(opts.Repo)
		if err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid reference format: %s: %v", opts.Repo, err)
		}
		if _, ok := named.(reference.Digested); ok {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "cannot import digest reference")
		}
		if opts.Tag != "" {
			if named, err = reference.WithTag(reference.TrimNamed(named), opts.Tag); err != nil {
				return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid tag %q: %v", opts.Tag, err)
			}
		}
		iopts = append(iopts, image.WithImportName(reference.TagNameOnly(named).String()))
	}
	if opts.Platform != "" {
		p, err := image.ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		iopts = append(iopts, image.WithImportPlatform(p))
	}
	if opts.Message != "" {
		iopts = append(iopts, image.WithMessage(opts.Message))
	}
	if len(opts.Changes) > 0 {
		iopts = append(iopts, image.WithChanges(opts.Changes...))
	}
	st := newStream(out)
	id, err := s.store.Import(ctx, src, iopts...)
	if err != nil {
		return st.fail(err)
	}
	st.send(jsonstream.Message{Status: id.String()})
	s.idEvent(ctx, events.ActionImport, id)
	return nil
}
