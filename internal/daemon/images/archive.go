package images

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/image/interchange"
)

// ImageSave is GET /images/get and /images/{name}/get: one archive
// (docker-archive and OCI layout at once) of every image refs name, a
// repository without a tag meaning all its tags. An unknown name fails
// before anything is written.
func (s *Service) ImageSave(ctx context.Context, refs []string, out io.Writer) error {
	ids := make([]digest.Digest, 0, len(refs))
	for _, ref := range refs {
		named, err := interchange.IDs(ctx, s.store, []string{ref})
		if err != nil {
			return noSuchImage(ref, err)
		}
		ids = append(ids, named...)
	}
	if err := interchange.Save(ctx, out, s.store, refs); err != nil {
		return err
	}
	seen := map[digest.Digest]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			s.idEvent(ctx, events.ActionSave, id)
		}
	}
	return nil
}

// ImageLoad is POST /images/load: docker load of a docker-archive or an
// OCI layout. The stream has docker's "Loading layer" progress (unless
// quiet) and one "Loaded image: name" (or "Loaded image ID: sha256:...")
// line per image, which the docker CLI prints.
func (s *Service) ImageLoad(ctx context.Context, src io.Reader, quiet bool, out io.Writer) error {
	st := newStream(out)
	progress := func(m jsonstream.Message) {
		if quiet && m.Stream == "" {
			return
		}
		st.send(m)
	}
	loaded, err := interchange.Load(ctx, src, s.store, interchange.WithProgress(progress))
	if err != nil {
		return st.fail(err)
	}
	for _, l := range loaded {
		s.idEvent(ctx, events.ActionLoad, l.ID)
	}
	return nil
}
