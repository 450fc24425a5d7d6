package interchange

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	layerarchive "github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/jsonstream"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits on what an archive may hold. The metadata files are read into
// memory, so they are capped; the rest streams.
const (
	MaxMetadataSize = 8 << 20
	maxEntries      = 1 << 20
	maxNameLen      = 4096
	maxLinkHops     = 16
	maxImages       = 10000
)

// LoadOpt sets an option of Load.
type LoadOpt func(*loadOptions)

type loadOptions struct {
	progress func(jsonstream.Message)
	unpack   *bool
}

// WithProgress reports progress in docker load's shape: "Loading layer"
// with current and total bytes per blob as it streams in (ID the blob's
// short name), then one {"stream": "Loaded image: name\n"} per name, or
// "Loaded image ID: sha256:...\n" for an image without one.
func WithProgress(fn func(jsonstream.Message)) LoadOpt {
	return func(o *loadOptions) { o.progress = fn }
}

// WithUnpack says whether to unpack the loaded images into the store's
// snapshotter before recording them. Default: when the store has one.
func WithUnpack(unpack bool) LoadOpt {
	return func(o *loadOptions) { o.unpack = &unpack }
}

// Loaded is one image a Load created.
type Loaded struct {
	ID     digest.Digest
	Target ocispec.Descriptor
	// Names are normalized references; empty for an image loaded without
	// a name (recorded dangling).
	Names []string
}

// fileEntry is a regular file of the archive, now a blob.
type fileEntry struct {
	digest digest.Digest
	size   int64
}

// loader holds the state of one Load.
type loader struct {
	s     *image.Store
	cs    content.Store
	o     loadOptions
	lease *image.Lease
	files map[string]fileEntry
	links map[string]string // entry name -> link target, relative to the archive root
	meta  map[string][]byte // the metadata files, read whole
}

var metadataFiles = map[string]bool{
	"manifest.json":         true,
	ocispec.ImageIndexFile:  true,
	ocispec.ImageLayoutFile: true,
	"repositories":          true,
}

// blobName matches an OCI layout's blob path.
var blobName = regexp.MustCompile(`^blobs/([a-z0-9]+)/([a-f0-9]+)$`)

// Load reads a docker-archive or an OCI image layout tar (optionally
// gzip- or zstd-compressed as a whole) from r into the store and records
// its images. See the package doc for what is verified.
func Load(ctx context.Context, r io.Reader, s *image.Store, opts ...LoadOpt) (_ []Loaded, err error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	unpack := s.Snapshotter() != nil
	if o.unpack != nil {
		if *o.unpack && !unpack {
			return nil, fmt.Errorf("load: the image store has no snapshotter to unpack into: %w", errdefs.ErrInvalidParameter)
		}
		unpack = *o.unpack
	}
	l := &loader{
		s: s, cs: s.Content(), o: o, lease: s.NewLease(),
		files: map[string]fileEntry{}, links: map[string]string{}, meta: map[string][]byte{},
	}
	defer func() {
		if err != nil {
			// Nothing of a rejected archive stays: not its records (none
			// were made), not its blobs. A detached context, since the
			// cancellation may be why we are here.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if derr := l.lease.Discard(cctx); derr != nil {
				err = errors.Join(err, fmt.Errorf("load: cleaning up: %w", derr))
			}
			return
		}
		// Blobs the archive brought that no image uses (the OCI side of
		// an archive read through its manifest.json, legacy files) go.
		if derr := l.lease.Discard(context.WithoutCancel(ctx)); derr != nil {
			err = fmt.Errorf("load: cleaning up: %w", derr)
		}
	}()

	ds, _, err := layerarchive.DecompressStream(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer ds.Close()
	if err := l.read(ctx, ds); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	imgs, err := l.images(ctx)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if unpack {
		for _, im := range imgs {
			if _, err := s.Unpack(ctx, image.Image{Target: im.Target}); err != nil {
				return nil, fmt.Errorf("load: image %s: %w", image.ShortID(im.ID), err)
			}
		}
	}
	var recs []image.Image
	for _, im := range imgs {
		if len(im.Names) == 0 {
			recs = append(recs, image.Image{Target: im.Target})
		}
		for _, n := range im.Names {
			recs = append(recs, image.Image{Name: n, Target: im.Target})
		}
	}
	if _, err := s.CreateAll(ctx, recs); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if o.progress != nil {
		for _, im := range imgs {
			if len(im.Names) == 0 {
				o.progress(jsonstream.Message{Stream: "Loaded image ID: " + im.ID.String() + "\n"})
			}
			for _, n := range im.Names {
				o.progress(jsonstream.Message{Stream: "Loaded image: " + image.FamiliarName(n) + "\n"})
			}
		}
	}
	return imgs, nil
}

// read streams the tar: metadata files into memory, every other regular
// file into the content store, links into the link table.
func (l *loader) read(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return fmt.Errorf("empty archive: %w", errdefs.ErrInvalidParameter)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %v: %w", err, errdefs.ErrInvalidParameter)
		}
		if n >= maxEntries {
			return fmt.Errorf("more than %d entries: %w", maxEntries, errdefs.ErrInvalidParameter)
		}
		name, err := cleanEntryName(hdr.Name)
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		if seen[name] {
			// A second entry of one name could replace a verified blob
			// with another: refuse rather than guess which one counts.
			return fmt.Errorf("entry %q appears twice: %w", hdr.Name, errdefs.ErrInvalidParameter)
		}
		seen[name] = true
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			target := hdr.Linkname
			if path.IsAbs(target) {
				l.links[name] = "/" // resolves to an error if used
			} else {
				l.links[name] = path.Join(path.Dir(name), target)
			}
		case tar.TypeLink:
			l.links[name] = path.Clean(hdr.Linkname)
		case tar.TypeReg, '\x00': // '\x00' is the regular file of pre-POSIX tars
			if metadataFiles[name] {
				if hdr.Size > MaxMetadataSize {
					return fmt.Errorf("%s is %d bytes, over the limit of %d: %w", name, hdr.Size, MaxMetadataSize, errdefs.ErrInvalidParameter)
				}
				b, err := io.ReadAll(tr)
				if err != nil {
					return fmt.Errorf("reading %s: %v: %w", name, err, errdefs.ErrInvalidParameter)
				}
				l.meta[name] = b
				continue
			}
			if skippable(name) {
				continue
			}
			e, err := l.ingest(ctx, name, hdr.Size, tr)
			if err != nil {
				return err
			}
			l.files[name] = e
		default:
			// Devices, fifos and the like have no place in an image
			// archive; they are ignored, as docker ignores them.
		}
	}
}

// skippable are the legacy (pre-1.10) per-layer files that manifest.json
// never names: not worth a blob each.
func skippable(name string) bool {
	base := path.Base(name)
	return path.Dir(name) != "." && (base == "json" || base == "VERSION")
}

// cleanEntryName makes a tar entry name relative and clean, refusing one
// that is absolute, climbs out, or is absurd.
func cleanEntryName(name string) (string, error) {
	if len(name) > maxNameLen || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry name %.64q...: too long or holds NUL: %w", name, errdefs.ErrInvalidParameter)
	}
	if path.IsAbs(name) || strings.HasPrefix(name, `\`) {
		return "", fmt.Errorf("entry %q: absolute path: %w", name, errdefs.ErrInvalidParameter)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("entry %q: path climbs out of the archive: %w", name, errdefs.ErrInvalidParameter)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", fmt.Errorf("entry %q: empty name: %w", name, errdefs.ErrInvalidParameter)
	}
	return c, nil
}

// ingest streams one file into the content store. A file named
// blobs/<alg>/<hex> must hash to that digest; any other gets its digest
// computed.
func (l *loader) ingest(ctx context.Context, name string, size int64, r io.Reader) (fileEntry, error) {
	var expected digest.Digest
	if m := blobName.FindStringSubmatch(name); m != nil {
		d := digest.NewDigestFromEncoded(digest.Algorithm(m[1]), m[2])
		if err := d.Validate(); err != nil {
			return fileEntry{}, fmt.Errorf("entry %s: not a valid digest: %v: %w", name, err, errdefs.ErrInvalidParameter)
		}
		expected = d
		// Leased before it is written, so a GC between here and the
		// records never takes it (nor the copy already in the store).
		l.lease.AddContent(d)
	}
	desc := ocispec.Descriptor{Digest: expected, Size: size}
	ref := "load-" + name + "-" + randomSuffix()
	if expected != "" {
		ref = content.RefFor(desc)
	}
	w, err := content.OpenWriter(ctx, l.cs, ref, desc)
	if errdefs.IsAlreadyExists(err) {
		// Already here: the tar reader skips the rest of the entry, but a
		// truncated stream still fails at the next header.
		return fileEntry{digest: expected, size: size}, nil
	}
	if err != nil {
		return fileEntry{}, fmt.Errorf("entry %s: %w", name, err)
	}
	ok := false
	defer func() {
		if !ok {
			w.Close()
			_ = l.cs.Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	if st, err := w.Status(); err == nil && st.Offset > 0 {
		// An ingest a killed load left: start it over from this stream.
		if err := w.Truncate(0); err != nil {
			return fileEntry{}, fmt.Errorf("entry %s: %w", name, err)
		}
	}
	src := r
	if l.o.progress != nil && !strings.HasSuffix(name, ".json") {
		src = &loadProgress{r: r, total: size, id: shortName(name), fn: l.o.progress}
	}
	n, err := io.Copy(w, src)
	if err != nil {
		if errdefs.IsInvalidParameter(err) {
			return fileEntry{}, fmt.Errorf("entry %s: %w", name, err)
		}
		return fileEntry{}, fmt.Errorf("entry %s: %v (truncated archive?): %w", name, err, errdefs.ErrInvalidParameter)
	}
	if n != size {
		return fileEntry{}, fmt.Errorf("entry %s: %d of %d bytes (truncated archive): %w", name, n, size, errdefs.ErrInvalidParameter)
	}
	d, err := l.lease.Commit(ctx, w, size, expected, nil)
	ok = true
	if err != nil {
		_ = l.cs.Abort(context.WithoutCancel(ctx), ref)
		if errdefs.IsInvalidParameter(err) {
			return fileEntry{}, fmt.Errorf("entry %s: content does not match its name: %w", name, err)
		}
		return fileEntry{}, fmt.Errorf("entry %s: %w", name, err)
	}
	if p, ok := src.(*loadProgress); ok {
		p.report(true)
	}
	return fileEntry{digest: d, size: size}, nil
}

// shortName is the ID docker load shows for a file: the first 12
// characters of its hex name (blobs/sha256/<hex>, <hex>.tar,
// <hex>/layer.tar).
func shortName(name string) string {
	base := path.Base(name)
	if base == "layer.tar" {
		base = path.Base(path.Dir(name))
	}
	base = strings.TrimSuffix(base, ".tar")
	if len(base) > 12 {
		base = base[:12]
	}
	return base
}

func randomSuffix() string {
	return fmt.Sprintf("%d", time.Now().UnixNano())
}

// resolve follows name through the archive's links to a regular file.
func (l *loader) resolve(name string) (fileEntry, error) {
	orig := name
	c, err := cleanEntryName(name)
	if err != nil {
		return fileEntry{}, fmt.Errorf("%q points outside the archive: %w", orig, errdefs.ErrInvalidParameter)
	}
	name = c
	for hop := 0; hop <= maxLinkHops; hop++ {
		if e, ok := l.files[name]; ok {
			return e, nil
		}
		target, ok := l.links[name]
		if !ok {
			return fileEntry{}, fmt.Errorf("%q is missing from the archive: %w", orig, errdefs.ErrNotFound)
		}
		if target == "/" || target == ".." || strings.HasPrefix(target, "../") || path.IsAbs(target) {
			return fileEntry{}, fmt.Errorf("%q is a link that points outside the archive: %w", orig, errdefs.ErrInvalidParameter)
		}
		name = target
	}
	return fileEntry{}, fmt.Errorf("%q: too many levels of links: %w", orig, errdefs.ErrInvalidParameter)
}

// images validates the archive's images, all before any record is made.
func (l *loader) images(ctx context.Context) ([]Loaded, error) {
	_, hasIndex := l.meta[ocispec.ImageIndexFile]
	_, hasManifest := l.meta["manifest.json"]
	var items []manifestItem
	if hasManifest {
		if err := strictJSON(l.meta["manifest.json"], &items); err != nil {
			return nil, fmt.Errorf("manifest.json: %v: %w", err, errdefs.ErrInvalidParameter)
		}
		if len(items) > maxImages {
			return nil, fmt.Errorf("manifest.json: %d images, over the limit of %d: %w", len(items), maxImages, errdefs.ErrInvalidParameter)
		}
	}
	switch {
	case hasIndex:
		return l.ociImages(ctx, items)
	case hasManifest:
		return l.dockerImages(ctx, items)
	}
	return nil, fmt.Errorf("neither manifest.json nor index.json in the archive (not a docker save or OCI layout tar, or one from docker before 1.10): %w", errdefs.ErrInvalidParameter)
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON document")
	}
	return nil
}

// ociImages reads index.json. Names come from each entry's annotations:
// the full name containerd and docker write, else a ref.name that is a
// whole reference; else, from manifest.json's RepoTags for the same
// config (an archive docker 25 wrote without annotations).
func (l *loader) ociImages(ctx context.Context, items []manifestItem) ([]Loaded, error) {
	if b, ok := l.meta[ocispec.ImageLayoutFile]; ok {
		var layout ocispec.ImageLayout
		if err := json.Unmarshal(b, &layout); err != nil {
			return nil, fmt.Errorf("oci-layout: %v: %w", err, errdefs.ErrInvalidParameter)
		}
		if layout.Version != ocispec.ImageLayoutVersion {
			return nil, fmt.Errorf("oci-layout: version %q, Berth reads %q: %w", layout.Version, ocispec.ImageLayoutVersion, errdefs.ErrNotImplemented)
		}
	}
	idx, err := image.ParseIndex(l.meta[ocispec.ImageIndexFile])
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if len(idx.Manifests) > maxImages {
		return nil, fmt.Errorf("index.json: %d entries, over the limit of %d: %w", len(idx.Manifests), maxImages, errdefs.ErrInvalidParameter)
	}
	// RepoTags by config digest, for entries without a usable name.
	tagsByConfig := map[digest.Digest][]string{}
	for _, it := range items {
		if e, err := l.resolve(it.Config); err == nil {
			tagsByConfig[e.digest] = append(tagsByConfig[e.digest], it.RepoTags...)
		}
	}
	var out []Loaded
	byTarget := map[digest.Digest]int{}
	for i, d := range idx.Manifests {
		target := d
		target.Annotations = nil
		if err := l.checkPresent(ctx, target.Digest, target.Size); err != nil {
			return nil, fmt.Errorf("index.json entry %d: %w", i, err)
		}
		res, err := l.s.Resolve(ctx, image.Image{Target: target})
		if err != nil {
			return nil, fmt.Errorf("index.json entry %d (%s): %w", i, d.Digest, err)
		}
		if target.MediaType == "" {
			target.MediaType = res.Manifest.MediaType
			if res.Index != nil {
				target.MediaType = ocispec.MediaTypeImageIndex
				if res.Index.MediaType != "" {
					target.MediaType = res.Index.MediaType
				}
			}
		}
		if err := l.checkImage(ctx, res); err != nil {
			return nil, fmt.Errorf("index.json entry %d (%s): %w", i, d.Digest, err)
		}
		names, err := ociNames(idx.Manifests[i].Annotations)
		if err != nil {
			return nil, fmt.Errorf("index.json entry %d: %w", i, err)
		}
		if len(names) == 0 {
			for _, t := range tagsByConfig[res.ID()] {
				n, err := image.NormalizeName(t)
				if err != nil {
					return nil, fmt.Errorf("manifest.json: RepoTags %q: %w", t, err)
				}
				names = append(names, n.String())
			}
		}
		j, ok := byTarget[target.Digest]
		if !ok {
			j = len(out)
			byTarget[target.Digest] = j
			out = append(out, Loaded{ID: res.ID(), Target: target})
		}
		out[j].Names = appendNew(out[j].Names, names...)
	}
	return out, nil
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		dup := false
		for _, x := range list {
			dup = dup || x == a
		}
		if !dup {
			list = append(list, a)
		}
	}
	return list
}

// ociNames reads an index.json entry's name.
func ociNames(ann map[string]string) ([]string, error) {
	if n := ann[AnnotationImageName]; n != "" {
		named, err := image.NormalizeName(n)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", AnnotationImageName, err)
		}
		return []string{named.String()}, nil
	}
	ref := ann[AnnotationRefName]
	// A bare tag ("latest") says nothing of the repository; only a whole
	// reference ("busybox:1.36", "localhost:5000/x:1") names an image.
	if ref == "" || !strings.ContainsAny(ref, ":/@") {
		return nil, nil
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, nil // a ref.name that is not a docker reference: no name
	}
	n, err := image.NormalizeName(named.String())
	if err != nil {
		return nil, nil
	}
	return []string{n.String()}, nil
}

// checkPresent makes sure a blob the archive names came in it (or was in
// the store already), at the size its descriptor says.
func (l *loader) checkPresent(ctx context.Context, d digest.Digest, size int64) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %v: %w", d, err, errdefs.ErrInvalidParameter)
	}
	info, err := l.cs.Info(ctx, d)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("blob %s is missing from the archive: %w", d, errdefs.ErrNotFound)
		}
		return err
	}
	l.lease.AddContent(d)
	if info.Size != size {
		return fmt.Errorf("blob %s is %d bytes, its descriptor says %d: %w", d, info.Size, size, errdefs.ErrInvalidParameter)
	}
	return nil
}

// checkImage checks that every blob of a resolved image is present, and
// leases the platform manifests of an index that came along.
func (l *loader) checkImage(ctx context.Context, res *image.Resolved) error {
	if res.Index != nil {
		if err := l.checkPresent(ctx, res.Manifest.Digest, res.Manifest.Size); err != nil {
			return err
		}
	}
	if err := l.checkPresent(ctx, res.ManifestBody.Config.Digest, res.ManifestBody.Config.Size); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for i, ld := range res.ManifestBody.Layers {
		if err := l.checkPresent(ctx, ld.Digest, ld.Size); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return nil
}

// dockerImages reads docker's manifest.json: each image's config and
// layers are files of the archive; the layers are checked against the
// config's diff_ids (a compressed layer is decompressed to check), and a
// manifest is written for each image.
func (l *loader) dockerImages(ctx context.Context, items []manifestItem) ([]Loaded, error) {
	var out []Loaded
	byTarget := map[digest.Digest]int{}
	for i, it := range items {
		cfgEntry, err := l.resolve(it.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json image %d config: %w", i, err)
		}
		cfgBytes, err := content.ReadBlob(ctx, l.cs, ocispec.Descriptor{Digest: cfgEntry.digest, Size: cfgEntry.size}, content.WithReadLimit(image.MaxConfigSize))
		if err != nil {
			return nil, fmt.Errorf("manifest.json image %d config %s: %w", i, it.Config, err)
		}
		cfg, err := image.ParseConfig(cfgBytes)
		if err != nil {
			return nil, fmt.Errorf("manifest.json image %d config %s: %w", i, it.Config, err)
		}
		if len(it.Layers) != len(cfg.RootFS.DiffIDs) {
			return nil, fmt.Errorf("manifest.json image %d: %d layers, its config has %d diff_ids: %w", i, len(it.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalidParameter)
		}
		m := ocispec.Manifest{
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgEntry.digest, Size: cfgEntry.size},
		}
		m.SchemaVersion = 2
		for j, lp := range it.Layers {
			e, err := l.resolve(lp)
			if err != nil {
				return nil, fmt.Errorf("manifest.json image %d layer %d: %w", i, j, err)
			}
			mt, err := l.checkDiffID(ctx, e, cfg.RootFS.DiffIDs[j])
			if err != nil {
				return nil, fmt.Errorf("manifest.json image %d layer %d (%s): %w", i, j, lp, err)
			}
			m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: mt, Digest: e.digest, Size: e.size})
		}
		mb, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		target := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb))}
		l.lease.AddContent(target.Digest)
		if err := content.WriteBlob(ctx, l.cs, content.RefFor(target), bytes.NewReader(mb), target); err != nil && !errdefs.IsAlreadyExists(err) {
			return nil, fmt.Errorf("manifest.json image %d: writing its manifest: %w", i, err)
		}
		var names []string
		for _, t := range it.RepoTags {
			n, err := image.NormalizeName(t)
			if err != nil {
				return nil, fmt.Errorf("manifest.json image %d: RepoTags %q: %w", i, t, err)
			}
			names = append(names, n.String())
		}
		j, ok := byTarget[target.Digest]
		if !ok {
			j = len(out)
			byTarget[target.Digest] = j
			out = append(out, Loaded{ID: cfgEntry.digest, Target: target})
		}
		out[j].Names = appendNew(out[j].Names, names...)
	}
	return out, nil
}

// checkDiffID checks a docker-archive layer file against its diff_id and
// returns the media type it is stored under. An uncompressed layer's
// digest is its diff_id; a compressed one (docker 25's archives, ours) is
// decompressed and hashed.
func (l *loader) checkDiffID(ctx context.Context, e fileEntry, diffID digest.Digest) (string, error) {
	ra, err := l.cs.ReaderAt(ctx, ocispec.Descriptor{Digest: e.digest, Size: e.size})
	if err != nil {
		return "", err
	}
	defer ra.Close()
	head := make([]byte, 16)
	n, _ := ra.ReadAt(head, 0)
	c := layerarchive.DetectCompression(head[:n])
	if c == layerarchive.Uncompressed {
		if e.digest != diffID {
			return "", fmt.Errorf("layer has digest %s, the config's diff_id is %s: %w", e.digest, diffID, errdefs.ErrInvalidParameter)
		}
		return ocispec.MediaTypeImageLayer, nil
	}
	ds, _, err := layerarchive.DecompressStream(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return "", err
	}
	defer ds.Close()
	h := diffID.Algorithm().Digester()
	if _, err := io.Copy(h.Hash(), ds); err != nil {
		return "", fmt.Errorf("decompressing: %v: %w", err, errdefs.ErrInvalidParameter)
	}
	if h.Digest() != diffID {
		return "", fmt.Errorf("layer content has digest %s, the config's diff_id is %s: %w", h.Digest(), diffID, errdefs.ErrInvalidParameter)
	}
	switch c {
	case layerarchive.Gzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case layerarchive.Zstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	}
	return "", fmt.Errorf("layer compressed with %s: %w", c, errdefs.ErrNotImplemented)
}

// loadProgress reports "Loading layer" at most every 100ms or 1 MiB.
type loadProgress struct {
	r      io.Reader
	n      int64
	total  int64
	id     string
	fn     func(jsonstream.Message)
	lastN  int64
	lastAt time.Time
}

func (p *loadProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.report(false)
	return n, err
}

func (p *loadProgress) report(final bool) {
	now := time.Now()
	if !final && p.n-p.lastN < 1<<20 && now.Sub(p.lastAt) < 100*time.Millisecond {
		return
	}
	if final && p.n == p.lastN && !p.lastAt.IsZero() {
		return
	}
	p.lastN, p.lastAt = p.n, now
	p.fn(jsonstream.Message{Status: "Loading layer", ID: p.id, Progress: &jsonstream.Progress{Current: p.n, Total: p.total}})
}
