package image

import (
	"context"
	"fmt"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/distribution/reference"
	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"
)

// InUseFunc reports whether a container uses the image with this ID. The
// daemon provides it; the image store knows nothing of containers.
type InUseFunc func(ctx context.Context, imageID digest.Digest) (bool, error)

// DeleteOpt sets an option of Delete and Prune.
type DeleteOpt func(*deleteOptions)

type deleteOptions struct {
	force bool
	inUse InUseFunc
	noGC  bool
}

// WithForce is docker rmi -f: untag the image from every repository and
// delete it even while a container uses it (the container keeps its own
// snapshot and, through it, the layers it needs).
func WithForce() DeleteOpt { return func(o *deleteOptions) { o.force = true } }

// WithInUse sets how Delete learns that a container uses an image.
// Without it, no image is in use.
func WithInUse(fn InUseFunc) DeleteOpt { return func(o *deleteOptions) { o.inUse = fn } }

// WithoutGC leaves garbage collection to the caller (one GC after a batch
// of deletes).
func WithoutGC() DeleteOpt { return func(o *deleteOptions) { o.noGC = true } }

func makeDeleteOptions(opts []DeleteOpt) deleteOptions {
	o := deleteOptions{inUse: func(context.Context, digest.Digest) (bool, error) { return false, nil }}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Delete is docker rmi. Given a name, it removes that name; if it was the
// image's last name, the image goes too, unless a container uses it (then
// errdefs.ErrConflict: "unable to remove repository reference ... (must
// force)"). Removing a repository's last tag also removes its digest
// names. Given an ID, it deletes the image, untagging it first if it has
// at most one tag and every name is in one repository; otherwise, or
// while a container uses it, errdefs.ErrConflict "(must be forced)"
// unless WithForce. Unreferenced blobs and snapshots are then collected.
// The responses are docker's: one Untagged per name removed, then Deleted
// with the image ID.
func (s *Store) Delete(ctx context.Context, ref string, opts ...DeleteOpt) ([]imagetypes.DeleteResponse, error) {
	o := makeDeleteOptions(opts)
	img, byName, err := s.lookup(ctx, ref)
	if err != nil {
		return nil, err
	}
	res, err := s.Resolve(ctx, img)
	if err != nil {
		// A record whose content is gone (a crash, a bad load) can still
		// be removed by its name.
		if !byName {
			return nil, err
		}
		if err := s.removeRecords(ctx, img.Name); err != nil {
			return nil, err
		}
		return []imagetypes.DeleteResponse{{Untagged: FamiliarName(img.Name)}}, nil
	}
	id := res.ID()
	g, err := s.groupOf(ctx, id)
	if err != nil {
		return nil, err
	}
	used, err := o.inUse(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("image %s: in use: %w", ShortID(id), err)
	}
	named := g.named()
	var out []imagetypes.DeleteResponse
	if byName {
		if used && singleReference(named) && !o.force {
			return nil, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container is using its referenced image %s: %w",
				ref, ShortID(id), errdefs.ErrConflict)
		}
		gone := []string{img.Name}
		if isTagged(img.Name) {
			// The repository's last tag takes its digest names with it,
			// as docker does, so no half-named image is left behind.
			repo := repoOf(img.Name)
			lastTag := true
			for _, n := range named {
				if n != img.Name && isTagged(n) && repoOf(n) == repo {
					lastTag = false
				}
			}
			if lastTag {
				for _, n := range named {
					if n != img.Name && !isTagged(n) && repoOf(n) == repo {
						gone = append(gone, n)
					}
				}
			}
		}
		if len(gone) < len(named) || (used && !o.force) {
			// Other names remain, or the image must stay for its
			// container: only untag. (In the second case the image stays
			// as a dangling record.)
			if err := s.untag(ctx, gone, len(gone) == len(named)); err != nil {
				return nil, err
			}
			for _, n := range gone {
				out = append(out, imagetypes.DeleteResponse{Untagged: FamiliarName(n)})
			}
			return out, nil
		}
		for _, n := range gone {
			out = append(out, imagetypes.DeleteResponse{Untagged: FamiliarName(n)})
		}
	} else {
		if !o.force {
			if used {
				return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by a container: %w", ShortID(id), errdefs.ErrConflict)
			}
			if !singleReference(named) {
				return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories: %w", ShortID(id), errdefs.ErrConflict)
			}
		}
		for _, n := range named {
			out = append(out, imagetypes.DeleteResponse{Untagged: FamiliarName(n)})
		}
	}
	if err := s.removeImage(ctx, id); err != nil {
		return out, err
	}
	out = append(out, imagetypes.DeleteResponse{Deleted: id.String()})
	if !o.noGC {
		if _, err := s.GC(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}

// lookup is Get that also says whether ref matched by name.
func (s *Store) lookup(ctx context.Context, ref string) (Image, bool, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Image{}, false, err
	}
	if r.Named != nil {
		recs, err := s.Records(ctx)
		if err != nil {
			return Image{}, false, err
		}
		if img, ok := s.findByName(ctx, recs, r.Named); ok {
			if _, digested := r.Named.(reference.Canonical); digested && img.Name != mustCanonical(r.Named) {
				// repo@digest that matched a tagged record: docker
				// treats it as naming the image, not a name to remove.
				return img, false, nil
			}
			return img, true, nil
		}
	}
	img, err := s.Get(ctx, ref)
	return img, false, err
}

func mustCanonical(n reference.Named) string {
	c, err := canonicalName(n)
	if err != nil {
		return n.String()
	}
	return c.String()
}

func repoOf(name string) string {
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return n.Name()
}

// singleReference is docker's rule for deleting by ID without force: at
// most one tag, and every name in one repository.
func singleReference(names []string) bool {
	tags, repo := 0, ""
	for _, n := range names {
		if isTagged(n) {
			tags++
		}
		r := repoOf(n)
		if repo != "" && r != repo {
			return false
		}
		repo = r
	}
	return tags <= 1
}

func (g *imageGroup) named() []string {
	var out []string
	for _, r := range g.records {
		if !r.Dangling() {
			out = append(out, r.Name)
		}
	}
	return out
}

func (s *Store) groupOf(ctx context.Context, id digest.Digest) (*imageGroup, error) {
	gs, err := s.groups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.id == id {
			return g, nil
		}
	}
	return nil, fmt.Errorf("no such image: %s: %w", id, errdefs.ErrNotFound)
}

// untag removes names; with keepDangling, the image they named stays as a
// dangling record (it had no other name).
func (s *Store) untag(ctx context.Context, names []string, keepDangling bool) error {
	return s.records.update(ctx, func(m map[string]Image) (bool, error) {
		var last Image
		for _, n := range names {
			if img, ok := m[n]; ok {
				last = img
				delete(m, n)
			}
		}
		if keepDangling && last.Name != "" {
			s.keepAsDangling(ctx, m, last)
		}
		return true, nil
	})
}

func (s *Store) removeRecords(ctx context.Context, names ...string) error {
	return s.records.update(ctx, func(m map[string]Image) (bool, error) {
		for _, n := range names {
			delete(m, n)
		}
		return true, nil
	})
}

// removeImage removes every record, named or dangling, that resolves to
// id.
func (s *Store) removeImage(ctx context.Context, id digest.Digest) error {
	return s.records.update(ctx, func(m map[string]Image) (bool, error) {
		changed := false
		for k, img := range m {
			if r, err := s.resolveTarget(ctx, img.Target); err == nil && r.ID() == id {
				delete(m, k)
				changed = true
			}
		}
		return changed, nil
	})
}
