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
// How a pull survives being killed: every blob is ingested into the
// content store under content.RefFor(desc), a name derived from its
// digest, so a later pull of the same blob (in this process or the next)
// opens the same ingest and finds, in Status().Offset, how many bytes the
// last one wrote. It asks the registry for the rest with "Range:
// bytes=<offset>-" and appends; a registry that answers 200 instead of 206
// gets the whole blob again from byte 0. The content store hashes what was
// already written when the ingest is reopened, so the commit still checks
// the whole blob against its digest; if that fails and the data began with
// a resumed prefix, the ingest is thrown away and the blob fetched once
// more from scratch. Committed blobs are found with Info and never
// requested. Within one pull, a connection that drops mid-blob is resumed
// the same way, after a backoff.
//
// A pull, from the daemon's point of view:
//
//	c, err := distribution.New(distribution.WithMirrors("https://mirror.example"))
//	lease := images.NewLease()
//	defer lease.Release()
//	var unpack *image.Unpack
//	res, err := c.Pull(ctx, "busybox:latest", images.Content(),
//		distribution.WithAuth(authFromHeader),
//		distribution.WithProgress(events), // drained into a JSONMessageWriter
//		distribution.WithLease(lease.AddContent),
//		distribution.WithImageHook(func(ctx context.Context, r *distribution.PullResult) error {
//			unpack, err = images.NewUnpack(ctx, r.Manifest) // manifest and config are stored
//			return err
//		}),
//		distribution.WithLayerHook(func(ctx context.Context, i int, l ocispec.Descriptor) error {
//			unpack.Ready(i) // layers arrive in order
//			return nil
//		}))
//	top, err := unpack.Wait()
package distribution
