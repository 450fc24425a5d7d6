package images

import (
	"context"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// ImageDelete is DELETE /images/{name}: docker rmi, with docker's
// conflicts. By name: the name goes; the image goes too with its last
// name, unless a container uses it (without force: refused; with force
// and a running container: the image stays, untagged). By ID: the image
// and all its names go, unless a running container uses it (refused even
// with force), a stopped one does or it is in several repositories
// (refused without force). noPrune has nothing to keep: images here have
// no parent images.
func (s *Service) ImageDelete(ctx context.Context, ref string, force, noPrune bool) ([]imagetypes.DeleteResponse, error) {
	s.settle()
	img, id, err := s.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	names, err := s.namesOf(ctx, id)
	if err != nil {
		return nil, err
	}
	users := s.usersOf(id)
	var running, stopped string
	for _, c := range users {
		if s.running(c) {
			if running == "" {
				running = c
			}
		} else if stopped == "" {
			stopped = c
		}
	}
	single := singleReference(names)
	short := image.ShortID(id)

	var out []imagetypes.DeleteResponse
	if byName(ref, img, id) {
		if !force && single && len(users) > 0 {
			return nil, errdefs.Errorf(errdefs.ErrConflict, "conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
				ref, shortContainer(users[0]), short)
		}
		if running != "" && single {
			// Forced, but a running container keeps the image: untag
			// only, and keep the image as a dangling one, as docker does.
			out, err = s.store.Delete(ctx, ref, image.WithForce(), image.WithoutGC())
			out = withoutDeleted(out)
			if err == nil {
				_, err = s.store.CreateAll(ctx, []image.Image{{Target: img.Target}})
			}
		} else {
			// Not the last name, or nothing runs on it: the store's own
			// rules (the last name takes the image with it).
			out, err = s.store.Delete(ctx, ref, image.WithInUse(func(context.Context, digest.Digest) (bool, error) {
				return running != "", nil
			}))
		}
	} else {
		switch {
		case running != "":
			return nil, errdefs.Errorf(errdefs.ErrConflict, "conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short, shortContainer(running))
		case !force && len(names) > 0 && !single:
			return nil, errdefs.Errorf(errdefs.ErrConflict, "conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short)
		case !force && stopped != "":
			return nil, errdefs.Errorf(errdefs.ErrConflict, "conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short, shortContainer(stopped))
		}
		out, err = s.store.Delete(ctx, ref, image.WithForce())
	}
	s.deleteEvents(ctx, id, out)
	if err != nil {
		return out, noSuchImage(ref, err)
	}
	return out, nil
}

// byName reports whether ref named the image by a name rather than by
// its ID (or an ID prefix), which is what docker rmi's rules hinge on.
func byName(ref string, img image.Image, id digest.Digest) bool {
	r, err := image.ParseRef(ref)
	if err != nil || r.Named == nil {
		return false
	}
	if r.IDPrefix != "" && strings.HasPrefix(id.Encoded(), r.IDPrefix) {
		return false
	}
	return !img.Dangling()
}

// namesOf is every name recorded for image id (normalized).
func (s *Service) namesOf(ctx context.Context, id digest.Digest) ([]string, error) {
	recs, err := s.store.Records(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range recs {
		if r.Dangling() {
			continue
		}
		res, err := s.store.Resolve(ctx, r)
		if err == nil && res.ID() == id {
			out = append(out, r.Name)
		}
	}
	return out, nil
}

// singleReference is docker's test for deleting by ID without force: at
// most one tag, and every name in that one repository. No name at all is
// not a single reference.
func singleReference(names []string) bool {
	tags, repo := 0, ""
	for _, n := range names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			return false
		}
		if _, digested := named.(reference.Digested); !digested {
			tags++
		}
		if repo != "" && named.Name() != repo {
			return false
		}
		repo = named.Name()
	}
	return len(names) > 0 && tags <= 1
}

func withoutDeleted(in []imagetypes.DeleteResponse) []imagetypes.DeleteResponse {
	var out []imagetypes.DeleteResponse
	for _, r := range in {
		if r.Deleted == "" {
			out = append(out, r)
		}
	}
	return out
}

// deleteEvents publishes docker's untag and delete events for a delete's
// responses; layer deletions (snapshots collected) are not image events.
func (s *Service) deleteEvents(ctx context.Context, id digest.Digest, resp []imagetypes.DeleteResponse) {
	for _, r := range resp {
		switch {
		case r.Untagged != "":
			s.idEvent(ctx, events.ActionUnTag, id)
		case r.Deleted == id.String():
			s.idEvent(ctx, events.ActionDelete, id)
		}
	}
}

func shortContainer(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
