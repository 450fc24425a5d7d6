package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/mount"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOpt sets an option of Import.
type ImportOpt func(*importOptions) error

type importOptions struct {
	name     string
	changes  []string
	message  string
	source   string
	platform *Platform
	unpack   *bool
}

// WithImportName names the imported image ("repo[:tag]").
func WithImportName(name string) ImportOpt {
	return func(o *importOptions) error {
		if name == "" {
			return nil
		}
		n, err := NormalizeName(name)
		if err != nil {
			return err
		}
		o.name = n.String()
		return nil
	}
}

// WithChanges applies Dockerfile instructions to the new config (see
// ApplyChanges).
func WithChanges(changes ...string) ImportOpt {
	return func(o *importOptions) error { o.changes = append(o.changes, changes...); return nil }
}

// WithMessage sets the history comment; docker's default is "Imported
// from <source>".
func WithMessage(msg string) ImportOpt {
	return func(o *importOptions) error { o.message = msg; return nil }
}

// WithSource names where the tarball came from ("-" for a request body,
// a URL), for the default message.
func WithSource(src string) ImportOpt {
	return func(o *importOptions) error { o.source = src; return nil }
}

// WithImportPlatform sets the platform the config declares (default: the
// store's, without a CPU level variant).
func WithImportPlatform(p Platform) ImportOpt {
	return func(o *importOptions) error {
		if p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("platform %q: OS and architecture are required: %w", p, errdefs.ErrInvalidParameter)
		}
		n := NormalizePlatform(p)
		o.platform = &n
		return nil
	}
}

// WithImportUnpack says whether to unpack the new image (default: when
// the store has a snapshotter).
func WithImportUnpack(unpack bool) ImportOpt {
	return func(o *importOptions) error { o.unpack = &unpack; return nil }
}

// Import makes a single-layer image of a root filesystem tarball (plain,
// gzip or zstd; bzip2 and xz are stored decompressed), as docker import
// does, and returns its ID. The tarball is stored as it came when its
// compression is one a layer may have, so nothing is recompressed; it is
// checked to be a tar on the way, and its diff_id computed. Changes are
// applied to an empty config; the image is recorded under the name given,
// or as dangling.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ...ImportOpt) (digest.Digest, error) {
	o := importOptions{source: "-"}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return "", fmt.Errorf("import: %w", err)
		}
	}
	var cfg dockerspec.DockerOCIImage
	if err := ApplyChanges(&cfg.Config, o.changes); err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	unpack := s.snapshots != nil
	if o.unpack != nil {
		unpack = *o.unpack && s.snapshots != nil
	}
	lease := s.NewLease()
	ok := false
	defer func() {
		if !ok {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			_ = lease.Discard(cctx)
			return
		}
		lease.Release()
	}()
	layer, diffID, err := s.ingestLayer(ctx, lease, r)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	p := s.opts.platform
	if o.platform != nil {
		p = *o.platform
	}
	if p.Architecture == "amd64" {
		p.Variant = "" // the CPU level is the host's, not the image's
	}
	created := s.opts.now().UTC()
	msg := o.message
	if msg == "" {
		msg = "Imported from " + o.source
	}
	cfg.Created = &created
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}
	cfg.History = []ocispec.History{{Created: &created, Comment: msg}}
	target, err := s.WriteImage(ctx, lease, cfg, []ocispec.Descriptor{layer})
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	res, err := s.resolveTarget(ctx, target)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	if unpack {
		if _, err := s.Unpack(ctx, Image{Target: target}); err != nil {
			return "", fmt.Errorf("import: %w", err)
		}
	}
	if _, err := s.CreateAll(ctx, []Image{{Name: o.name, Target: target}}); err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	ok = true
	return res.ID(), nil
}

// WriteImage writes a config and an OCI manifest over layers already in
// the store, under lease, and returns the manifest's descriptor (import
// and commit make images this way).
func (s *Store) WriteImage(ctx context.Context, lease *Lease, cfg dockerspec.DockerOCIImage, layers []ocispec.Descriptor) (ocispec.Descriptor, error) {
	cb, err := json.Marshal(cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cb), Size: int64(len(cb))}
	if err := s.putBytes(ctx, lease, cdesc, cb); err != nil {
		return ocispec.Descriptor{}, err
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cdesc, Layers: layers}
	m.SchemaVersion = 2
	mb, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb))}
	return mdesc, s.putBytes(ctx, lease, mdesc, mb)
}

func (s *Store) putBytes(ctx context.Context, lease *Lease, desc ocispec.Descriptor, b []byte) error {
	lease.AddContent(desc.Digest)
	err := content.WriteBlob(ctx, s.content, content.RefFor(desc), bytes.NewReader(b), desc)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// ingestLayer stores a layer tarball and returns its descriptor and
// diff_id. Gzip, zstd and plain tars are stored byte for byte; other
// compressions decompressed. The tar is read through to check it is one.
func (s *Store) ingestLayer(ctx context.Context, lease *Lease, r io.Reader) (ocispec.Descriptor, digest.Digest, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(16)
	if err != nil && err != io.EOF {
		return ocispec.Descriptor{}, "", fmt.Errorf("reading the tarball: %w", err)
	}
	comp := archive.DetectCompression(head)
	ref := "import-" + randomHex(8)
	w, err := content.OpenWriter(ctx, s.content, ref, ocispec.Descriptor{})
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	committed := false
	defer func() {
		if !committed {
			w.Close()
			_ = s.content.Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	mt := ocispec.MediaTypeImageLayer
	var raw io.Reader = br
	keepRaw := true
	switch comp {
	case archive.Gzip:
		mt = ocispec.MediaTypeImageLayerGzip
	case archive.Zstd:
		mt = ocispec.MediaTypeImageLayerZstd
	case archive.Uncompressed:
	default:
		keepRaw = false
	}
	if keepRaw {
		raw = io.TeeReader(br, w)
	}
	ds, _, err := archive.DecompressStream(raw)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer ds.Close()
	h := digest.SHA256.Digester()
	var plain io.Reader = io.TeeReader(ds, h.Hash())
	if !keepRaw {
		plain = io.TeeReader(plain, w)
	}
	tr := tar.NewReader(plain)
	entries := 0
	for {
		if err := ctx.Err(); err != nil {
			return ocispec.Descriptor{}, "", err
		}
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ocispec.Descriptor{}, "", fmt.Errorf("not a tar archive: %v: %w", err, errdefs.ErrInvalidParameter)
		}
		entries++
	}
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("reading the tarball: %v: %w", err, errdefs.ErrInvalidParameter)
	}
	if keepRaw {
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return ocispec.Descriptor{}, "", fmt.Errorf("reading the tarball: %w", err)
		}
	}
	if entries == 0 && h.Digest() == digest.SHA256.FromBytes(nil) {
		return ocispec.Descriptor{}, "", fmt.Errorf("empty tarball: %w", errdefs.ErrInvalidParameter)
	}
	st, err := w.Status()
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	d, err := lease.Commit(ctx, w, st.Offset, "", nil)
	committed = true
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: st.Offset}, h.Digest(), nil
}

// Export writes the tree the mounts make (a container's rootfs, an image's
// snapshot) as a tar, as docker export does. The mounts are mounted for
// the duration in a private temporary directory.
func Export(ctx context.Context, w io.Writer, mounts []mount.Mount) error {
	if len(mounts) == 0 {
		return fmt.Errorf("export: nothing to export: %w", errdefs.ErrInvalidParameter)
	}
	if dir, overlay := directDir(mounts, true); dir != "" && !overlay {
		return archive.WriteTar(ctx, w, dir)
	}
	err := mount.WithTempMount(ctx, mounts, func(root string) error {
		return archive.WriteTar(ctx, w, root)
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// ExportImage writes an image's root filesystem (its layers applied) as a
// tar: a read-only view of its top snapshot, exported.
func (s *Store) ExportImage(ctx context.Context, w io.Writer, ref string) (err error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return err
	}
	top, ok, err := s.Unpacked(ctx, img)
	if err != nil {
		return err
	}
	if !ok {
		if top, err = s.Unpack(ctx, img); err != nil {
			return err
		}
	}
	key := unpackKeyPrefix + "export-" + randomHex(8)
	mounts, err := s.snapshots.View(ctx, key, top)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rerr := s.snapshots.Remove(cctx, key); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	return Export(ctx, w, mounts)
}
