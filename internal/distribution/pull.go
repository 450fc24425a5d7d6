package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// PullResult describes what Pull stored.
type PullResult struct {
	// Ref is the normalized reference pulled
	// (docker.io/library/busybox:latest).
	Ref string
	// Root is what the reference names: an index or a manifest. Its
	// digest is the one docker prints ("Digest: …").
	Root ocispec.Descriptor
	// Manifest is the platform's manifest (Root when Root is a manifest).
	Manifest ocispec.Descriptor
	Config   ocispec.Descriptor
	Layers   []ocispec.Descriptor
	// Platform is the platform of the image, from its config.
	Platform ocispec.Platform
	// Downloaded is false when everything was in the store already and
	// only the tag was resolved ("Image is up to date").
	Downloaded bool
	// Endpoint is the host the image came from (a mirror or the registry).
	Endpoint string
}

// maxIndexDepth bounds nested indexes (an index entry that is an index).
const maxIndexDepth = 4

// SourceLabel is the content label recording where a blob came from:
// SourceLabel(registry) = comma-separated repositories of that registry
// known to hold the blob. Push uses it to mount blobs across repositories
// instead of uploading them (as containerd's
// "containerd.io/distribution.source.<registry>").
func SourceLabel(registry string) string { return "berth.io/distribution.source." + registry }

// maxSourceRepos bounds the repositories kept in a source label.
const maxSourceRepos = 8

// Pull is New(opts...) then Pull: a one-off pull with its own connections.
func Pull(ctx context.Context, ref string, store content.Store, opts ...Option) (*PullResult, error) {
	c, err := New(opts...)
	if err != nil {
		return nil, err
	}
	return c.Pull(ctx, ref, store)
}

// Pull fetches the image ref names (a tag or a digest) into store: the
// index if there is one, the manifest for the platform (WithPlatform, by
// default the host's), the config and the layers. Every blob is verified
// against its digest while it streams and committed only if it matches;
// blobs already in store are not requested; a blob that an earlier,
// interrupted pull left half-written is continued where it stopped with a
// Range request. Layers are fetched WithConcurrency at a time (3), and the
// LayerHook sees them in order as soon as each and all before it are
// stored. Pull returns after the last hook call and the last progress event.
//
// For Docker Hub, the mirrors (WithMirrors) are tried first, in order; a
// mirror that fails hands over to the next endpoint.
//
// Errors: a bad reference is errdefs.ErrInvalidParameter; an unknown image
// or no manifest for the platform, errdefs.ErrNotFound; refused credentials,
// errdefs.ErrUnauthorized; a registry that sent the wrong bytes,
// content.ErrDigestMismatch or ErrSizeMismatch (nothing of it is kept);
// schema 1 images, errdefs.ErrNotImplemented; an
// unreachable registry, errdefs.ErrUnavailable.
func (c *Client) Pull(ctx context.Context, ref string, store content.Store, opts ...Option) (*PullResult, error) {
	o, err := c.callOptions(opts)
	if err != nil {
		return nil, err
	}
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	p := &puller{c: c, o: o, ref: r, store: store, sink: newProgressSink(o.progress)}
	defer p.sink.Close(ctx)

	var errs []error
	for _, ep := range o.endpoints(r.domain) {
		res, err := p.pullFrom(ctx, ep)
		if err == nil {
			return res, nil
		}
		errs = append(errs, err)
		// Only a mirror hands over; the registry's own answer is final,
		// and so is a cancelled context or a failed layer hook.
		if !ep.mirror || ctx.Err() != nil || p.hookFailed {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// lazyRepo opens its repository on first use, once, for all goroutines.
type lazyRepo struct {
	open func(context.Context) (*repo, error)

	mu sync.Mutex
	r  *repo
}

func (l *lazyRepo) get(ctx context.Context) (*repo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.r == nil {
		// A failure is not kept: the next caller (a retry) pings again.
		r, err := l.open(ctx)
		if err != nil {
			return nil, err
		}
		l.r = r
	}
	return l.r, nil
}

// do is repo.do on the object kind/object ("manifests", "latest").
func (l *lazyRepo) do(ctx context.Context, method, kind, object string, hdr http.Header, ok ...int) (*http.Response, error) {
	r, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return r.do(ctx, method, r.url(kind, object), hdr, ok...)
}

type puller struct {
	c     *Client
	o     *options
	ref   imageRef
	store content.Store
	sink  *progressSink

	announced  bool
	downloaded atomic.Bool
	// hooked are the layers the hook has seen, so that a mirror's failure
	// handed over to the next endpoint does not show them twice.
	hooked      []ocispec.Descriptor
	hookFailed  bool
	imageHooked digest.Digest // the manifest the image hook was given
}

// protect puts a digest under the caller's lease before it is written or
// relied on.
func (p *puller) protect(d digest.Digest) {
	if p.o.lease != nil {
		p.o.lease(d)
	}
}

func (p *puller) pullFrom(ctx context.Context, ep endpoint) (*PullResult, error) {
	// The registry is pinged only when something must be asked of it: a
	// pull by digest of an image that is all in the store sends nothing.
	rc := &lazyRepo{open: func(ctx context.Context) (*repo, error) {
		return p.c.openRepo(ctx, p.o, ep, p.ref.domain, p.ref.path, "pull", nil)
	}}
	root, body, err := p.resolve(ctx, rc)
	if err != nil {
		return nil, err
	}
	if !p.announced {
		p.announced = true
		p.sink.Send(Progress{ID: p.ref.object(), Status: "Pulling from " + p.ref.path})
	}

	desc, mt := root, root.MediaType
	var m *manifestFields
	for depth := 0; ; depth++ {
		mt, m, err = parseManifest(p.ref.familiar(), body, mt)
		if err != nil {
			return nil, err
		}
		if isManifestType(mt) {
			break
		}
		if depth == maxIndexDepth {
			return nil, fmt.Errorf("%s: indexes nested more than %d deep: %w", p.ref.familiar(), maxIndexDepth, errdefs.ErrInvalidParameter)
		}
		child, err := selectManifest(m.Manifests, p.o.platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.ref.familiar(), err)
		}
		if desc, body, err = p.fetchManifest(ctx, rc, child); err != nil {
			return nil, err
		}
		mt = desc.MediaType
	}
	desc.MediaType = mt

	res := &PullResult{Ref: p.ref.named.String(), Root: root, Manifest: desc, Config: *m.Config, Layers: m.Layers, Endpoint: ep.host}
	p.protect(res.Config.Digest)
	for _, l := range res.Layers {
		p.protect(l.Digest)
	}
	if _, err := p.fetchBlob(ctx, rc, res.Config, nil); err != nil {
		return nil, fmt.Errorf("%s: config: %w", p.ref.familiar(), err)
	}
	plat, err := p.configPlatform(ctx, res.Config)
	if err != nil {
		return nil, err
	}
	res.Platform = plat.OCI()
	if root.Digest == desc.Digest && p.o.platformSet && !p.o.platform.Matches(plat) {
		return nil, fmt.Errorf("image with reference %s was found but its platform (%s) does not match the specified platform (%s): %w",
			p.ref.familiar(), plat, p.o.platform, errdefs.ErrNotFound)
	}
	if p.o.imageHook != nil {
		switch p.imageHooked {
		case "":
			p.imageHooked = desc.Digest
			if err := p.o.imageHook(ctx, res); err != nil {
				p.hookFailed = true
				return nil, err
			}
		case desc.Digest:
			// A mirror failed after the hook: the same image, go on.
		default:
			return nil, fmt.Errorf("%s: the registry's image %s differs from the mirror's %s, which is being unpacked already: %w",
				p.ref.familiar(), desc.Digest, p.imageHooked, errdefs.ErrConflict)
		}
	}
	if err := p.fetchLayers(ctx, rc, res.Layers); err != nil {
		return nil, err
	}
	res.Downloaded = p.downloaded.Load()
	if p.o.statusLines {
		p.sink.Send(Progress{Status: "Digest: " + root.Digest.String()})
		if res.Downloaded {
			p.sink.Send(Progress{Status: "Status: Downloaded newer image for " + p.ref.familiar()})
		} else {
			p.sink.Send(Progress{Status: "Status: Image is up to date for " + p.ref.familiar()})
		}
	}
	return res, nil
}

// resolve finds the root descriptor and its bytes. A digest reference whose
// manifest is in the store costs no request; a tag costs a HEAD (which
// Docker Hub does not count against its pull limit), and a GET only when
// the manifest it names is not in the store.
func (p *puller) resolve(ctx context.Context, rc *lazyRepo) (ocispec.Descriptor, []byte, error) {
	if p.ref.dgst != "" {
		return p.fetchManifest(ctx, rc, ocispec.Descriptor{Digest: digest.Digest(p.ref.dgst), Size: -1})
	}
	var head *http.Response
	err := p.o.retry(ctx, func() error {
		var err error
		head, err = rc.do(ctx, http.MethodHead, "manifests", p.ref.tag, http.Header{"Accept": {manifestAccept}}, http.StatusOK)
		return err
	})
	switch {
	case err == nil:
		head.Body.Close()
		d, derr := digest.Parse(head.Header.Get("Docker-Content-Digest"))
		if derr == nil {
			// The header is only a hint: fetchManifest checks the bytes,
			// and takes the media type from the body.
			desc := ocispec.Descriptor{Digest: d, Size: -1}
			if head.ContentLength >= 0 {
				desc.Size = head.ContentLength
			}
			return p.fetchManifest(ctx, rc, desc)
		}
	case errdefs.IsNotFound(err):
		return ocispec.Descriptor{}, nil, &manifestNotFound{ref: p.ref.familiar(), cause: err}
	case errdefs.IsUnauthorized(err), errdefs.IsForbidden(err), ctx.Err() != nil:
		return ocispec.Descriptor{}, nil, fmt.Errorf("%s: %w", p.ref.familiar(), err)
	}
	// No usable HEAD (no digest header, 405, ...): GET the tag and hash it.
	body, resp, err := p.getManifest(ctx, rc, p.ref.tag)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	mt, _, err := parseManifest(p.ref.familiar(), body, mediaTypeOf(resp))
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	desc := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(body), Size: int64(len(body))}
	if h, err := digest.Parse(resp.Header.Get("Docker-Content-Digest")); err == nil && h.Algorithm().FromBytes(body) != h {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%s: registry says %s for the manifest it sent, which is %s: %w",
			p.ref.familiar(), h, desc.Digest, content.ErrDigestMismatch)
	}
	p.protect(desc.Digest)
	if err := p.storeBytes(ctx, desc, body); err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	return desc, body, nil
}

// fetchManifest returns the bytes of the manifest or index desc names,
// from the store if it is there, else from the registry, verified against
// desc.Digest (and desc.Size unless -1) and then stored. The returned
// descriptor has the real size and the body's media type.
func (p *puller) fetchManifest(ctx context.Context, rc *lazyRepo, desc ocispec.Descriptor) (ocispec.Descriptor, []byte, error) {
	p.protect(desc.Digest)
	local, err := p.present(ctx, desc)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	var body []byte
	if local >= 0 {
		desc.Size = local
		if body, err = content.ReadBlob(ctx, p.store, desc, content.WithReadLimit(image.MaxManifestSize)); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
		p.addSource(ctx, desc.Digest)
	} else {
		var resp *http.Response
		body, resp, err = p.getManifest(ctx, rc, desc.Digest.String())
		if err != nil {
			return ocispec.Descriptor{}, nil, err
		}
		if desc.Size < 0 {
			desc.Size = int64(len(body))
		}
		if err := verifyBytes(desc, body); err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("%s: manifest: %w", p.ref.familiar(), err)
		}
		if desc.MediaType == "" {
			desc.MediaType = mediaTypeOf(resp)
		}
	}
	mt, _, err := parseManifest(p.ref.familiar(), body, desc.MediaType)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	// An index entry's media type must be the body's, or the index lied
	// about what it points at.
	if desc.MediaType != "" && desc.MediaType != mt && (isIndexType(desc.MediaType) || isManifestType(desc.MediaType)) {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%s: %s is a %s, not the %s it was announced as: %w",
			p.ref.familiar(), desc.Digest, mt, desc.MediaType, errdefs.ErrInvalidParameter)
	}
	desc.MediaType = mt
	if local < 0 {
		if err := p.storeBytes(ctx, desc, body); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
	}
	return desc, body, nil
}

// getManifest GETs a manifest by tag or digest, at most image.MaxManifestSize.
func (p *puller) getManifest(ctx context.Context, rc *lazyRepo, object string) ([]byte, *http.Response, error) {
	var body []byte
	var resp *http.Response
	err := p.o.retry(ctx, func() error {
		var err error
		resp, err = rc.do(ctx, http.MethodGet, "manifests", object, http.Header{"Accept": {manifestAccept}}, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(io.LimitReader(resp.Body, image.MaxManifestSize+1))
		return err
	})
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, nil, &manifestNotFound{ref: p.ref.familiar(), cause: err}
		}
		return nil, nil, fmt.Errorf("%s: manifest: %w", p.ref.familiar(), err)
	}
	if len(body) > image.MaxManifestSize {
		return nil, nil, fmt.Errorf("%s: manifest larger than %d bytes: %w", p.ref.familiar(), image.MaxManifestSize, errdefs.ErrInvalidParameter)
	}
	p.downloaded.Store(true)
	return body, resp, nil
}

func mediaTypeOf(resp *http.Response) string {
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(mt)
}

// present returns the size of desc's blob in the store, or -1 if it is
// not there. A stored size that contradicts a known desc.Size is an error:
// the digest is the same, so one of the two is lying.
func (p *puller) present(ctx context.Context, desc ocispec.Descriptor) (int64, error) {
	info, err := p.store.Info(ctx, desc.Digest)
	if errdefs.IsNotFound(err) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	if desc.Size >= 0 && info.Size != desc.Size {
		return -1, fmt.Errorf("%s: stored with size %d, the registry says %d: %w", desc.Digest, info.Size, desc.Size, content.ErrSizeMismatch)
	}
	return info.Size, nil
}

// storeBytes commits a verified manifest or index.
func (p *puller) storeBytes(ctx context.Context, desc ocispec.Descriptor, body []byte) error {
	err := content.WriteBlob(ctx, p.store, content.RefFor(desc), bytes.NewReader(body), desc,
		content.WithLabels(p.sourceLabels()))
	if err != nil {
		return fmt.Errorf("%s: storing %s: %w", p.ref.familiar(), desc.Digest, err)
	}
	// WriteBlob succeeds quietly when the blob was there already; the
	// label then still needs this repository.
	p.addSource(ctx, desc.Digest)
	return nil
}

// fetchBlob makes sure desc's blob is in the store, downloading (or
// continuing) it if not; it reports whether bytes were downloaded. counter,
// if not nil, gets the progress.
//
// Bytes that hash wrong are thrown away, never committed. If the bad data
// began with what an earlier, interrupted pull had left, that part may be
// the culprit, so the blob is fetched once more from its first byte; a
// fresh download that hashes wrong is the registry's fault and fails.
func (p *puller) fetchBlob(ctx context.Context, rc *lazyRepo, desc ocispec.Descriptor, counter *byteCounter) (bool, error) {
	for fresh := false; ; fresh = true {
		if size, err := p.present(ctx, desc); err != nil {
			return false, err
		} else if size >= 0 {
			p.addSource(ctx, desc.Digest)
			return false, nil
		}
		w, err := content.OpenWriter(ctx, p.store, content.RefFor(desc), desc)
		if errdefs.IsAlreadyExists(err) {
			// Another pull committed it while we waited for the ingest.
			p.addSource(ctx, desc.Digest)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("blob %s: %w", desc.Digest, err)
		}
		resumed, err := p.download(ctx, rc, desc, w, counter)
		if err == nil {
			counter.say(StatusVerifying)
			err = commit(ctx, w, desc, p.sourceLabels())
		}
		w.Close()
		if isMismatch(err) {
			discard(ctx, p.store, desc)
			if resumed && !fresh {
				continue
			}
		}
		if err != nil {
			return false, fmt.Errorf("blob %s: %w", desc.Digest, err)
		}
		p.downloaded.Store(true)
		counter.say(StatusDownloadComplete)
		return true, nil
	}
}

// download brings w up to desc.Size bytes from the registry, continuing
// from w's offset, and reports whether the data began with bytes an
// earlier ingest had left. An attempt that fails with a network error is
// retried from wherever it stopped; only attempts that make no progress
// count against the retry budget.
func (p *puller) download(ctx context.Context, rc *lazyRepo, desc ocispec.Descriptor, w content.Writer, counter *byteCounter) (bool, error) {
	b := backoff{o: p.o}
	resumed := false
	for first := true; ; first = false {
		st, err := w.Status()
		if err != nil {
			return resumed, err
		}
		off := st.Offset
		if off > desc.Size {
			// Not this blob's data: nothing of it can be right.
			if err := w.Truncate(0); err != nil {
				return resumed, err
			}
			off = 0
		}
		if first {
			resumed = off > 0
		}
		if off == desc.Size {
			return resumed, nil
		}
		err = p.downloadFrom(ctx, rc, desc, w, off, counter)
		if err == nil {
			return resumed, nil
		}
		if !retryable(err) {
			return resumed, err
		}
		if st, serr := w.Status(); serr == nil && st.Offset > off {
			b.reset()
		}
		if b.tries >= p.o.retries {
			return resumed, err
		}
		if werr := b.wait(ctx); werr != nil {
			return resumed, werr
		}
	}
}

// errStalled is a body that sent nothing for the idle timeout.
var errStalled = fmt.Errorf("download stalled: %w", errRetry)

// downloadFrom is one attempt: GET the blob from off (a Range request when
// off > 0) and append it to w. A server that ignores the Range gets a fresh
// start; one that sends more than desc.Size bytes is a mismatch.
func (p *puller) downloadFrom(ctx context.Context, rc *lazyRepo, desc ocispec.Descriptor, w content.Writer, off int64, counter *byteCounter) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hdr := http.Header{}
	if off > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := rc.do(ctx, http.MethodGet, "blobs", desc.Digest.String(), hdr,
		http.StatusOK, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusRequestedRangeNotSatisfiable:
		// We asked for less than the blob holds, so the registry's copy
		// is not desc's, or our prefix is not: start over from zero.
		if err := w.Truncate(0); err != nil {
			return err
		}
		return fmt.Errorf("registry refused range %d- of %d bytes: %w", off, desc.Size, errRetry)
	case http.StatusOK:
		if off > 0 {
			// The server ignored the Range: take the whole blob again.
			if err := w.Truncate(0); err != nil {
				return err
			}
			off = 0
		}
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			if err := w.Truncate(0); err != nil {
				return err
			}
			return fmt.Errorf("registry answered range %d- with %q: %w", off, resp.Header.Get("Content-Range"), errRetry)
		}
		if total >= 0 && total != desc.Size {
			return fmt.Errorf("registry has %d bytes, the manifest says %d: %w", total, desc.Size, content.ErrSizeMismatch)
		}
	}
	if resp.ContentLength >= 0 && off+resp.ContentLength != desc.Size {
		return fmt.Errorf("registry sends %d bytes from %d, the manifest says %d in all: %w", resp.ContentLength, off, desc.Size, content.ErrSizeMismatch)
	}
	counter.set(off)

	// A body that stops sending is cut after the idle timeout, and the
	// next attempt resumes it.
	idle := time.AfterFunc(p.o.idleTimeout, func() { cancel(errStalled) })
	defer idle.Stop()
	body := &idleReader{r: resp.Body, t: idle, d: p.o.idleTimeout}
	var r io.Reader = io.LimitReader(body, desc.Size-off)
	if counter != nil {
		r = countingReader{r: r, c: counter}
	}
	n, err := io.CopyBuffer(onlyWriter{w}, r, make([]byte, 128<<10))
	if err != nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return errStalled
		}
		return err
	}
	if off+n < desc.Size {
		return fmt.Errorf("blob ended at %d of %d bytes: %w", off+n, desc.Size, io.ErrUnexpectedEOF)
	}
	// Anything past the declared size means the registry serves another
	// blob under this digest.
	var extra [1]byte
	if k, _ := io.ReadFull(body, extra[:]); k > 0 {
		return fmt.Errorf("registry sent more than the %d bytes the manifest says: %w", desc.Size, content.ErrSizeMismatch)
	}
	return nil
}

// onlyWriter hides any ReaderFrom of the content writer, so that the copy
// goes through our reader (idle timer, counter, limit) in bounded chunks.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(b []byte) (int, error) { return o.w.Write(b) }

// idleReader pushes the idle deadline back on every read that returns data.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (r *idleReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}

// parseContentRange parses "bytes start-end/total" (total may be "*",
// returned as -1).
func parseContentRange(h string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	s, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(s, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}

// fetchLayers fetches the layers WithConcurrency at a time, lowest first,
// and feeds the hook in order. Layers present show "Already exists"; the
// others "Pulling fs layer", and "Waiting" while no slot is free.
func (p *puller) fetchLayers(ctx context.Context, rc *lazyRepo, layers []ocispec.Descriptor) error {
	if n := len(p.hooked); n > 0 && (len(layers) < n || !slices.EqualFunc(p.hooked, layers[:n], sameBlob)) {
		return fmt.Errorf("%s: the registry's image differs from the mirror's, whose first layers are unpacked already: %w", p.ref.familiar(), errdefs.ErrConflict)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	done := make([]chan struct{}, len(layers))
	first := map[digest.Digest]int{}
	var todo []int
	for i, l := range layers {
		if j, dup := first[l.Digest]; dup {
			// One blob twice in a manifest is fetched once.
			done[i] = done[j]
			continue
		}
		first[l.Digest] = i
		done[i] = make(chan struct{})
		size, err := p.present(ctx, l)
		if err != nil {
			return err
		}
		if size >= 0 {
			p.addSource(ctx, l.Digest)
			p.sink.Send(Progress{ID: shortID(l.Digest), Status: StatusAlreadyExists, Digest: l.Digest})
			close(done[i])
			continue
		}
		p.sink.Send(Progress{ID: shortID(l.Digest), Status: StatusPullingFSLayer, Digest: l.Digest})
		todo = append(todo, i)
	}

	var wg sync.WaitGroup
	wg.Go(func() { p.runHooks(ctx, cancel, layers, done) })

	slots := make(chan struct{}, p.o.concurrency)
	waiting := false
launch:
	for k, i := range todo {
		select {
		case slots <- struct{}{}:
		default:
			if !waiting {
				waiting = true
				for _, j := range todo[k:] {
					p.sink.Send(Progress{ID: shortID(layers[j].Digest), Status: StatusWaiting, Digest: layers[j].Digest})
				}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				break launch
			}
		}
		l := layers[i]
		wg.Go(func() {
			defer func() { <-slots }()
			counter := &byteCounter{sink: p.sink, id: shortID(l.Digest), status: StatusDownloading, dgst: l.Digest, total: l.Size}
			downloaded, err := p.fetchBlob(ctx, rc, l, counter)
			if err != nil {
				cancel(err)
				return
			}
			if !downloaded {
				// A concurrent pull fetched it while we waited for its
				// ingest: done all the same.
				counter.say(StatusDownloadComplete)
			}
			close(done[i])
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// runHooks calls the layer hook in layer order as layers complete.
func (p *puller) runHooks(ctx context.Context, cancel context.CancelCauseFunc, layers []ocispec.Descriptor, done []chan struct{}) {
	for i := range layers {
		select {
		case <-done[i]:
		case <-ctx.Done():
			return
		}
		if i < len(p.hooked) {
			continue
		}
		if p.o.layerHook != nil {
			if err := p.o.layerHook(ctx, i, layers[i]); err != nil {
				p.hookFailed = true
				cancel(fmt.Errorf("layer %d (%s): %w", i, layers[i].Digest, err))
				return
			}
		}
		p.hooked = append(p.hooked, layers[i])
	}
}

func sameBlob(a, b ocispec.Descriptor) bool { return a.Digest == b.Digest && a.Size == b.Size }

// configPlatform reads the platform out of a stored image config.
func (p *puller) configPlatform(ctx context.Context, desc ocispec.Descriptor) (image.Platform, error) {
	b, err := content.ReadBlob(ctx, p.store, desc, content.WithReadLimit(image.MaxConfigSize))
	if err != nil {
		return image.Platform{}, err
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return image.Platform{}, fmt.Errorf("%s: config %s is not valid JSON: %w: %w", p.ref.familiar(), desc.Digest, err, errdefs.ErrInvalidParameter)
	}
	return image.NormalizePlatform(image.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}), nil
}

// sourceLabels are the labels of a blob committed by this pull.
func (p *puller) sourceLabels() map[string]string {
	return map[string]string{SourceLabel(p.ref.domain): p.ref.path}
}

// addSource records this repository in the source label of a blob that
// was in the store already. It is best effort: a label lost costs a future
// push an upload instead of a mount, nothing more.
func (p *puller) addSource(ctx context.Context, d digest.Digest) {
	addSourceRepo(ctx, p.store, d, p.ref.domain, p.ref.path)
}

// labeler is the part of content.Manager that source labels need.
type labeler interface {
	Info(ctx context.Context, dgst digest.Digest) (content.Info, error)
	Update(ctx context.Context, info content.Info, fieldpaths ...string) (content.Info, error)
}

func addSourceRepo(ctx context.Context, m labeler, d digest.Digest, domain, repoPath string) {
	info, err := m.Info(ctx, d)
	if err != nil {
		return
	}
	key := SourceLabel(domain)
	repos := splitRepos(info.Labels[key])
	if slices.Contains(repos, repoPath) {
		return
	}
	// Newest first; the oldest fall off.
	repos = append([]string{repoPath}, repos...)
	if len(repos) > maxSourceRepos {
		repos = repos[:maxSourceRepos]
	}
	_, _ = m.Update(ctx, content.Info{Digest: d, Labels: map[string]string{key: joinRepos(repos)}}, "labels."+key)
}

func splitRepos(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// commit commits w as desc; a blob committed meanwhile by someone else is
// success. The writer's own digest is checked first, so a mismatch names
// what the registry sent.
func commit(ctx context.Context, w content.Writer, desc ocispec.Descriptor, labels map[string]string) error {
	if got := w.Digest(); got != desc.Digest {
		return fmt.Errorf("registry sent %s: %w", got, content.ErrDigestMismatch)
	}
	err := w.Commit(ctx, desc.Size, desc.Digest, labels)
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// discard aborts the ingest of desc, even if ctx is cancelled.
func discard(ctx context.Context, store content.IngestManager, desc ocispec.Descriptor) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = store.Abort(ctx, content.RefFor(desc))
}
