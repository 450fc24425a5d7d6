// Package distribution is Berth's registry client: it pulls images from and
// pushes images to any registry that speaks the OCI distribution spec (or
// Docker's registry API v2), logs in, and searches.
//
// It is built on go-containerregistry's transport (the ping, the basic and
// bearer token dance) and authn (credentials), but speaks the distribution
// protocol itself, because Berth needs what ggcr's remote package does not
// offer: blobs land in Berth's own content store, a killed pull resumes a
// half-downloaded blob with an HTTP Range request, every byte is verified
// against its digest while it streams, and progress is reported in the shape
// the docker CLI renders.
//
// Package rules:
//   - Every call takes a context first and never stores it.
//   - All defaults live in makeOptions (options.go), which also rejects
//     contradictions; the daemon turns its configuration into Options.
//   - Registries are hostile: no size, digest or media type they send is
//     trusted; blobs are hashed while streaming and committed only when the
//     digest matches, so a half-written or corrupt blob is never visible.
//   - Plain HTTP is used only for registries configured as insecure and for
//     loopback (127.0.0.0/8, ::1, localhost), as docker does.
//   - Errors carry an errdefs class (ErrNotFound, ErrUnauthorized, ...).
//
// A pull, from the daemon's point of view:
//
//	c, err := distribution.New(distribution.WithMirrors("https://mirror.example"))
//	res, err := c.Pull(ctx, "busybox:latest", store,
//		distribution.WithProgress(events),
//		distribution.WithLayerHook(func(ctx context.Context, i int, l ocispec.Descriptor) error {
//			return unpacker.Apply(ctx, i, l) // layers arrive in order
//		}))
package distribution
