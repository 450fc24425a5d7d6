package interchange

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotations on index.json entries. containerd and docker name an image
// in full with the first; the OCI spec's ref.name is the tag (what
// `skopeo copy oci:dir:tag` looks up).
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = ocispec.AnnotationRefName
)

// manifestItem is one entry of docker's manifest.json.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// epoch is every entry's mtime, so that saving the same images twice
// gives the same bytes.
var epoch = time.Unix(0, 0).UTC()

// saved is one image to save: its target and the names it goes by.
type saved struct {
	target ocispec.Descriptor
	names  []string // normalized; empty when saved by ID
	res    *image.Resolved
}

// Save writes the images refs name to w, as docker save does: a name
// without a tag means every tag of that repository, a tag or digest that
// name, an ID the image without names. Each blob is written once however
// many images share it, read back from the content store and checked
// against its digest on the way.
func Save(ctx context.Context, w io.Writer, s *image.Store, refs []string) error {
	if len(refs) == 0 {
		return fmt.Errorf("save: no image named: %w", errdefs.ErrInvalidParameter)
	}
	imgs, err := collect(ctx, s, refs)
	if err != nil {
		return err
	}
	cs := s.Content()
	var blobs []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	add := func(d ocispec.Descriptor) {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			blobs = append(blobs, d)
		}
	}
	var index ocispec.Index
	index.SchemaVersion = 2
	index.MediaType = ocispec.MediaTypeImageIndex
	var items []manifestItem
	repos := map[string]map[string]string{}
	for _, im := range imgs {
		add(im.target)
		if im.res.Index != nil {
			// Every platform that is complete here travels with the
			// index; the others are left out, as docker does.
			for _, m := range im.res.Index.Manifests {
				if m.Digest == im.res.Manifest.Digest {
					continue
				}
				if complete, err := imageComplete(ctx, s, m); err == nil && complete {
					sub, _ := s.Resolve(ctx, image.Image{Target: m})
					add(m)
					add(sub.ManifestBody.Config)
					for _, l := range sub.ManifestBody.Layers {
						add(l)
					}
				}
			}
			add(im.res.Manifest)
		}
		add(im.res.ManifestBody.Config)
		item := manifestItem{Config: blobPath(im.res.ManifestBody.Config.Digest)}
		for _, l := range im.res.ManifestBody.Layers {
			if _, err := cs.Info(ctx, l.Digest); err != nil {
				return fmt.Errorf("save %s: layer %s: %w", im.res.ID(), l.Digest, err)
			}
			add(l)
			item.Layers = append(item.Layers, blobPath(l.Digest))
		}
		for _, n := range im.names {
			entry := im.target
			named, err := reference.ParseNormalizedNamed(n)
			if err != nil {
				return fmt.Errorf("save: %s: %v: %w", n, err, errdefs.ErrInvalidParameter)
			}
			entry.Annotations = map[string]string{AnnotationImageName: named.String()}
			if t, ok := named.(reference.Tagged); ok {
				entry.Annotations[AnnotationRefName] = t.Tag()
				item.RepoTags = append(item.RepoTags, reference.FamiliarString(named))
				repo := reference.FamiliarName(named)
				if repos[repo] == nil {
					repos[repo] = map[string]string{}
				}
				repos[repo][t.Tag()] = im.res.ID().Encoded()
			}
			index.Manifests = append(index.Manifests, entry)
		}
		if len(im.names) == 0 {
			index.Manifests = append(index.Manifests, im.target)
		}
		items = append(items, item)
	}

	tw := tar.NewWriter(w)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, b := range blobs {
		if err := writeBlob(ctx, tw, s, b); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	idx, err := json.Marshal(index)
	if err != nil {
		return err
	}
	man, err := json.Marshal(items)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{{ocispec.ImageIndexFile, idx}, {"manifest.json", man}, {ocispec.ImageLayoutFile, layout}}
	if len(repos) > 0 {
		r, err := json.Marshal(repos)
		if err != nil {
			return err
		}
		files = append(files, struct {
			name string
			data []byte
		}{"repositories", r})
	}
	for _, f := range files {
		if err := writeFile(tw, f.name, f.data); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	return tw.Close()
}

// IDs returns the IDs of the images Save writes for refs, read as Save
// reads them (a name without a tag is every tag of its repository).
func IDs(ctx context.Context, s *image.Store, refs []string) ([]digest.Digest, error) {
	imgs, err := collect(ctx, s, refs)
	if err != nil {
		return nil, err
	}
	ids := make([]digest.Digest, 0, len(imgs))
	for _, im := range imgs {
		ids = append(ids, im.res.ID())
	}
	return ids, nil
}

func blobPath(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

func writeFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func writeBlob(ctx context.Context, tw *tar.Writer, s *image.Store, d ocispec.Descriptor) error {
	ra, err := s.Content().ReaderAt(ctx, d)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer ra.Close()
	size := ra.Size()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: blobPath(d.Digest), Size: size, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	h := d.Digest.Algorithm().Digester()
	if _, err := io.Copy(io.MultiWriter(tw, h.Hash()), io.NewSectionReader(ra, 0, size)); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if h.Digest() != d.Digest {
		return fmt.Errorf("blob %s is corrupt in the content store (it hashes to %s): %w", d.Digest, h.Digest(), errdefs.ErrInvalidParameter)
	}
	return nil
}

// imageComplete reports whether the manifest m and everything it names
// are in the store.
func imageComplete(ctx context.Context, s *image.Store, m ocispec.Descriptor) (bool, error) {
	res, err := s.Resolve(ctx, image.Image{Target: m})
	if err != nil {
		return false, err
	}
	for _, l := range res.ManifestBody.Layers {
		if _, err := s.Content().Info(ctx, l.Digest); err != nil {
			return false, nil
		}
	}
	return true, nil
}

// collect turns refs into images with their names, as docker save reads
// its arguments.
func collect(ctx context.Context, s *image.Store, refs []string) ([]*saved, error) {
	recs, err := s.Records(ctx)
	if err != nil {
		return nil, err
	}
	var out []*saved
	byTarget := map[digest.Digest]*saved{}
	addName := func(target ocispec.Descriptor, name string) error {
		sv, ok := byTarget[target.Digest]
		if !ok {
			res, err := s.Resolve(ctx, image.Image{Target: target})
			if err != nil {
				return err
			}
			sv = &saved{target: target, res: res}
			byTarget[target.Digest] = sv
			out = append(out, sv)
		}
		if name != "" {
			for _, n := range sv.names {
				if n == name {
					return nil
				}
			}
			sv.names = append(sv.names, name)
		}
		return nil
	}
	for _, ref := range refs {
		if named, err := reference.ParseNormalizedNamed(ref); err == nil && reference.IsNameOnly(named) {
			found := false
			for _, r := range recs {
				if r.Dangling() {
					continue
				}
				if n, err := reference.ParseNormalizedNamed(r.Name); err == nil && n.Name() == named.Name() {
					if _, tagged := n.(reference.Tagged); tagged {
						if err := addName(r.Target, r.Name); err != nil {
							return nil, err
						}
						found = true
					}
				}
			}
			if found {
				continue
			}
		}
		img, err := s.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		name := ""
		if r, err := image.ParseRef(ref); err == nil && r.Named != nil && !img.Dangling() {
			// Saved by a name: the archive carries that name (for a
			// digest, the record's own tagged name is not implied).
			if _, digested := r.Named.(reference.Canonical); !digested && img.Name == r.Named.String() {
				name = img.Name
			}
		}
		if err := addName(img.Target, name); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].names) > 0 && len(out[j].names) == 0 })
	return out, nil
}
