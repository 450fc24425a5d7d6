package distribution

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// PushResult describes what Push sent.
type PushResult struct {
	// Ref is the normalized reference pushed to.
	Ref  string
	Root ocispec.Descriptor
}

// maxMountSources bounds the repositories a push asks a token for, and
// tries to mount each blob from.
const maxMountSources = 4

// Push is New(opts...) then Push: a one-off push with its own connections.
func Push(ctx context.Context, ref string, store content.Provider, root ocispec.Descriptor, opts ...Option) (*PushResult, error) {
	c, err := New(opts...)
	if err != nil {
		return nil, err
	}
	return c.Push(ctx, ref, store, root)
}

// Push uploads the image whose root (a manifest or an index) is in store
// to ref: every blob WithConcurrency at a time (3), then the manifests,
// children before the index, the root under ref's tag (or digest). A blob
// the registry has is not uploaded ("Layer already exists"); a blob the
// store's source label (SourceLabel) says another repository of the same
// registry holds is mounted from it ("Mounted from <repo>"). If store is
// also a content.Manager, pushed blobs get ref's repository added to their
// source label.
//
// Every manifest the root reaches must be in store: an index whose other
// platforms were never pulled is errdefs.ErrNotFound. A digest in ref that
// is not root's is errdefs.ErrInvalidParameter.
func (c *Client) Push(ctx context.Context, ref string, store content.Provider, root ocispec.Descriptor, opts ...Option) (*PushResult, error) {
	o, err := c.callOptions(opts)
	if err != nil {
		return nil, err
	}
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	if r.dgst != "" && r.dgst != root.Digest.String() {
		return nil, fmt.Errorf("push %s: the image is %s: %w", ref, root.Digest, errdefs.ErrInvalidParameter)
	}
	ps := &pusher{o: o, ref: r, store: store, sink: newProgressSink(o.progress), seen: map[digest.Digest]bool{}}
	defer ps.sink.Close(ctx)
	ps.labels, _ = store.(labeler)

	if err := ps.plan(ctx, root, 0); err != nil {
		return nil, err
	}
	root = ps.manifests[len(ps.manifests)-1].desc
	sources := ps.mountSources(ctx)

	if o.statusLines {
		ps.sink.Send(Progress{Status: "The push refers to repository [" + r.named.Name() + "]"})
	}
	rc, err := c.openRepo(ctx, o, endpoint{host: endpointHost(r.domain)}, r.domain, r.path, "push,pull", sources)
	if err != nil {
		return nil, err
	}
	if err := ps.pushBlobs(ctx, rc); err != nil {
		return nil, err
	}
	for i, m := range ps.manifests {
		object := m.desc.Digest.String()
		if i == len(ps.manifests)-1 && r.tag != "" {
			object = r.tag
		}
		if err := ps.putManifest(ctx, rc, m, object); err != nil {
			return nil, err
		}
	}
	ps.sink.Send(Progress{Status: fmt.Sprintf("%s: digest: %s size: %d", r.tag, root.Digest, root.Size)})
	ps.sink.Send(Progress{Aux: PushAux{Tag: r.tag, Digest: root.Digest.String(), Size: root.Size}})
	return &PushResult{Ref: r.named.String(), Root: root}, nil
}

type pusher struct {
	o      *options
	ref    imageRef
	store  content.Provider
	labels labeler // nil if the store keeps no labels
	sink   *progressSink

	seen      map[digest.Digest]bool
	blobs     []pushBlob
	manifests []pushManifest // children before parents; the root last
}

type pushBlob struct {
	desc    ocispec.Descriptor
	layer   bool // layers show progress, configs do not (as docker)
	sources []string
}

type pushManifest struct {
	desc ocispec.Descriptor
	body []byte
}

// plan walks the image from desc, collecting each blob once and the
// manifests in the order they must be put.
func (ps *pusher) plan(ctx context.Context, desc ocispec.Descriptor, depth int) error {
	if depth > maxIndexDepth {
		return fmt.Errorf("push %s: indexes nested more than %d deep: %w", ps.ref.familiar(), maxIndexDepth, errdefs.ErrInvalidParameter)
	}
	body, err := content.ReadBlob(ctx, ps.store, desc, content.WithReadLimit(image.MaxManifestSize))
	if err != nil {
		if errdefs.IsNotFound(err) && depth > 0 {
			return fmt.Errorf("push %s: the index lists %s (%s), which is not in the store (pulled for one platform only?): %w",
				ps.ref.familiar(), desc.Digest, platformString(desc.Platform), err)
		}
		return fmt.Errorf("push %s: %w", ps.ref.familiar(), err)
	}
	mt, m, err := parseManifest(ps.ref.familiar(), body, desc.MediaType)
	if err != nil {
		return err
	}
	desc.MediaType = mt
	if isIndexType(mt) {
		for _, child := range m.Manifests {
			if ps.seen[child.Digest] {
				continue
			}
			ps.seen[child.Digest] = true
			if err := ps.plan(ctx, child, depth+1); err != nil {
				return err
			}
		}
	} else {
		ps.addBlob(*m.Config, false)
		for _, l := range m.Layers {
			ps.addBlob(l, true)
		}
	}
	ps.manifests = append(ps.manifests, pushManifest{desc: desc, body: body})
	return nil
}

func platformString(p *ocispec.Platform) string {
	if p == nil {
		return "no platform"
	}
	return image.PlatformFromOCI(*p).String()
}

func (ps *pusher) addBlob(d ocispec.Descriptor, layer bool) {
	if ps.seen[d.Digest] {
		return
	}
	ps.seen[d.Digest] = true
	ps.blobs = append(ps.blobs, pushBlob{desc: d, layer: layer})
}

// mountSources reads the source labels of the blobs and returns the other
// repositories of the target registry worth a mount, most useful first.
func (ps *pusher) mountSources(ctx context.Context) []string {
	if ps.labels == nil {
		return nil
	}
	key := SourceLabel(ps.ref.domain)
	count := map[string]int{}
	for i := range ps.blobs {
		info, err := ps.labels.Info(ctx, ps.blobs[i].desc.Digest)
		if err != nil {
			continue
		}
		for _, repo := range splitRepos(info.Labels[key]) {
			if repo != ps.ref.path && validRepoPath(repo) {
				ps.blobs[i].sources = append(ps.blobs[i].sources, repo)
				count[repo]++
			}
		}
	}
	var all []string
	for repo := range count {
		all = append(all, repo)
	}
	slices.SortFunc(all, func(a, b string) int {
		if count[a] != count[b] {
			return count[b] - count[a]
		}
		return cmp.Compare(a, b)
	})
	if len(all) > maxMountSources {
		all = all[:maxMountSources]
	}
	for i := range ps.blobs {
		ps.blobs[i].sources = slices.DeleteFunc(ps.blobs[i].sources, func(s string) bool { return !slices.Contains(all, s) })
	}
	return all
}

// validRepoPath keeps a label's value (which anyone with access to the
// store could have written) out of URLs and token scopes unless it is a
// plain repository path.
func validRepoPath(p string) bool {
	if p == "" || len(p) > 255 {
		return false
	}
	for _, c := range p {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '/', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// pushBlobs sends the blobs, WithConcurrency at a time.
func (ps *pusher) pushBlobs(ctx context.Context, rc *repo) error {
	for _, b := range ps.blobs {
		if b.layer {
			ps.sink.Send(Progress{ID: shortID(b.desc.Digest), Status: StatusPreparing, Digest: b.desc.Digest})
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	slots := make(chan struct{}, ps.o.concurrency)
	waiting := false
launch:
	for k, b := range ps.blobs {
		select {
		case slots <- struct{}{}:
		default:
			if !waiting {
				waiting = true
				for _, w := range ps.blobs[k:] {
					if w.layer {
						ps.sink.Send(Progress{ID: shortID(w.desc.Digest), Status: StatusWaiting, Digest: w.desc.Digest})
					}
				}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				break launch
			}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := ps.pushBlob(ctx, rc, b); err != nil {
				cancel(fmt.Errorf("push %s: blob %s: %w", ps.ref.familiar(), b.desc.Digest, err))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// pushBlob makes the registry hold one blob: it has it, a mount gives it,
// or we upload it.
func (ps *pusher) pushBlob(ctx context.Context, rc *repo, b pushBlob) error {
	var counter *byteCounter
	if b.layer {
		counter = &byteCounter{sink: ps.sink, id: shortID(b.desc.Digest), status: StatusPushing, dgst: b.desc.Digest, total: b.desc.Size}
	}
	exists, err := ps.blobExists(ctx, rc, b.desc)
	if err != nil {
		return err
	}
	if exists {
		counter.say(StatusLayerExists)
		ps.recordSource(ctx, b.desc.Digest)
		return nil
	}
	var upload *url.URL
	for _, src := range b.sources {
		mounted, loc, err := ps.mount(ctx, rc, b.desc, src)
		if err != nil {
			// A failed mount only costs an upload.
			continue
		}
		if mounted {
			counter.say(statusMountedFrom + src)
			ps.recordSource(ctx, b.desc.Digest)
			return nil
		}
		upload = loc
		break
	}
	err = ps.o.retry(ctx, func() error {
		if upload == nil {
			var err error
			if upload, err = ps.startUpload(ctx, rc); err != nil {
				return err
			}
		}
		err := ps.upload(ctx, rc, upload, b.desc, counter)
		// A session that failed is spent: the next attempt starts one.
		upload = nil
		return err
	})
	if err != nil {
		return err
	}
	counter.say(StatusPushed)
	ps.recordSource(ctx, b.desc.Digest)
	return nil
}

func (ps *pusher) blobExists(ctx context.Context, rc *repo, desc ocispec.Descriptor) (bool, error) {
	var exists bool
	err := ps.o.retry(ctx, func() error {
		resp, err := rc.do(ctx, http.MethodHead, rc.url("blobs", desc.Digest.String()), nil, http.StatusOK, http.StatusNotFound)
		if err != nil {
			return err
		}
		resp.Body.Close()
		// A blob of another size under this digest is not ours: upload,
		// and let the registry's own verification decide.
		exists = resp.StatusCode == http.StatusOK && (resp.ContentLength < 0 || resp.ContentLength == desc.Size)
		return nil
	})
	return exists, err
}

// mount asks the registry to link desc from repository src: 201 is done,
// 202 means no (the registry opened an upload session instead, returned).
func (ps *pusher) mount(ctx context.Context, rc *repo, desc ocispec.Descriptor, src string) (bool, *url.URL, error) {
	q := url.Values{"mount": {desc.Digest.String()}, "from": {src}}
	u := fmt.Sprintf("https://%s/v2/%s/blobs/uploads/?%s", rc.host, rc.name, q.Encode())
	resp, err := rc.do(ctx, http.MethodPost, u, nil, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, nil, err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusCreated {
		return true, nil, nil
	}
	loc, err := resolveLocation(resp)
	return false, loc, err
}

func (ps *pusher) startUpload(ctx context.Context, rc *repo) (*url.URL, error) {
	resp, err := rc.do(ctx, http.MethodPost, fmt.Sprintf("https://%s/v2/%s/blobs/uploads/", rc.host, rc.name), nil, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	return resolveLocation(resp)
}

// upload sends the whole blob in one PUT to the session at loc (a
// monolithic upload: one request, and the registry verifies the digest).
func (ps *pusher) upload(ctx context.Context, rc *repo, loc *url.URL, desc ocispec.Descriptor, counter *byteCounter) error {
	ra, err := ps.store.ReaderAt(ctx, desc)
	if err != nil {
		return err
	}
	defer ra.Close()
	if ra.Size() != desc.Size {
		return fmt.Errorf("stored with %d bytes, the manifest says %d: %w", ra.Size(), desc.Size, content.ErrSizeMismatch)
	}
	u := *loc
	q := u.Query()
	q.Set("digest", desc.Digest.String())
	u.RawQuery = q.Encode()
	counter.set(0)
	var body io.Reader = io.NewSectionReader(ra, 0, desc.Size)
	if counter != nil {
		body = countingReader{r: body, c: counter}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), io.NopCloser(body))
	if err != nil {
		return err
	}
	req.ContentLength = desc.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := rc.client.Do(req)
	if err != nil {
		return classify(err)
	}
	defer drain(resp)
	if err := checkResponse(resp, http.StatusCreated); err != nil {
		return err
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != desc.Digest.String() {
		return fmt.Errorf("registry stored %s: %w", h, content.ErrDigestMismatch)
	}
	return nil
}

// putManifest puts one manifest or index under object (a digest or tag).
func (ps *pusher) putManifest(ctx context.Context, rc *repo, m pushManifest, object string) error {
	return ps.o.retry(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, rc.url("manifests", object), bytes.NewReader(m.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", m.desc.MediaType)
		resp, err := rc.client.Do(req)
		if err != nil {
			return classify(err)
		}
		defer drain(resp)
		if err := checkResponse(resp, http.StatusCreated); err != nil {
			return fmt.Errorf("push %s: manifest %s: %w", ps.ref.familiar(), m.desc.Digest, err)
		}
		if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != m.desc.Digest.String() {
			return fmt.Errorf("push %s: registry stored the manifest as %s, not %s: %w", ps.ref.familiar(), h, m.desc.Digest, content.ErrDigestMismatch)
		}
		return nil
	})
}

// recordSource adds the target repository to the blob's source label.
func (ps *pusher) recordSource(ctx context.Context, d digest.Digest) {
	if ps.labels != nil {
		addSourceRepo(ctx, ps.labels, d, ps.ref.domain, ps.ref.path)
	}
}
