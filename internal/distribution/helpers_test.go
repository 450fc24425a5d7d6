package distribution_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// newStore is a fresh content store in the test's temporary directory.
func newStore(t testing.TB) *content.LocalStore {
	t.Helper()
	s, err := content.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkStore fails t unless the store's own consistency check is clean:
// every blob hashes to its name and nothing half-written is visible.
func checkStore(t testing.TB, s *content.LocalStore) {
	t.Helper()
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("content check: %v", rep.Unrepaired())
	}
}

// fastRetries keeps failing tests quick.
var fastRetries = distribution.WithRetries(2, 10*time.Millisecond)

// pullEvents pulls and returns the progress events it sent.
func pullEvents(t testing.TB, ctx context.Context, ref string, store content.Store, opts ...distribution.Option) (*distribution.PullResult, []distribution.Progress, error) {
	t.Helper()
	ch := make(chan distribution.Progress)
	var events []distribution.Progress
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range ch {
			events = append(events, p)
		}
	}()
	res, err := distribution.Pull(ctx, ref, store, append([]distribution.Option{fastRetries, distribution.WithProgress(ch)}, opts...)...)
	close(ch)
	<-done
	return res, events, err
}

// pushEvents pushes and returns the progress events it sent.
func pushEvents(t testing.TB, ctx context.Context, ref string, store content.Provider, root ocispec.Descriptor, opts ...distribution.Option) (*distribution.PushResult, []distribution.Progress, error) {
	t.Helper()
	ch := make(chan distribution.Progress)
	var events []distribution.Progress
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range ch {
			events = append(events, p)
		}
	}()
	res, err := distribution.Push(ctx, ref, store, root, append([]distribution.Option{fastRetries, distribution.WithProgress(ch)}, opts...)...)
	close(ch)
	<-done
	return res, events, err
}

// storeImage writes a ggcr image into store (layers, config, manifest) and
// returns its manifest's descriptor.
func storeImage(t testing.TB, store content.Store, img v1.Image) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		desc := ocispec.Descriptor{Digest: digest.Digest(d.String()), Size: size}
		if err := content.WriteBlob(ctx, store, content.RefFor(desc), rc, desc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	writeBytes(t, store, cfg)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	desc := writeBytes(t, store, raw)
	desc.MediaType = string(mt)
	return desc
}

// storeIndex writes an index and every image in it.
func storeIndex(t testing.TB, store content.Store, idx v1.ImageIndex) ocispec.Descriptor {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		storeImage(t, store, img)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	desc := writeBytes(t, store, raw)
	desc.MediaType = string(mt)
	return desc
}

func writeBytes(t testing.TB, store content.Store, b []byte) ocispec.Descriptor {
	t.Helper()
	desc := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(context.Background(), store, content.RefFor(desc), bytes.NewReader(b), desc); err != nil {
		t.Fatal(err)
	}
	return desc
}

// readStored reads a blob back from store.
func readStored(t testing.TB, store content.Provider, d ocispec.Descriptor) []byte {
	t.Helper()
	b, err := content.ReadBlob(context.Background(), store, d, content.WithReadLimit(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randomImage is an OCI image of n uncompressed layers of size random
// bytes each (incompressible, so sizes are what they say), for linux/amd64.
func randomImage(t testing.TB, n int, size int64, seed uint64) v1.Image {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var layers []v1.Layer
	for i := range n {
		b := make([]byte, size)
		for j := 0; j+8 <= len(b); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		layers = append(layers, tarLayer(t, fmt.Sprintf("file-%d-%d", seed, i), b))
	}
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tarLayer is an uncompressed OCI layer holding one file.
func tarLayer(t testing.TB, name string, data []byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

// imageDesc is the descriptor of a ggcr image's manifest.
func imageDesc(t testing.TB, a interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}) ocispec.Descriptor {
	t.Helper()
	raw, err := a.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := a.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
}

// proxy is a reverse proxy in front of a test registry that logs every
// request and can misbehave on purpose: cut a blob's body after some
// bytes, flip a byte, ignore Range, delay blob GETs, fail with 503. It
// listens on 127.0.0.1 like the registry, and keeps the Host of the
// request, so the registry's upload Locations point back at the proxy.
type proxy struct {
	Host string
	srv  *httptest.Server

	inflight    atomic.Int64
	maxInflight atomic.Int64

	mu         sync.Mutex
	log        []*logged               // in order of arrival
	cut        map[digest.Digest]int64 // cut the body after this many bytes, once
	flip       map[digest.Digest]int64 // flip the byte at this blob offset, always
	stripRange bool
	blobDelay  time.Duration
	fail503    int   // answer this many next manifest requests with 503
	rate       int64 // bytes per second of blob bodies (0: unlimited)
}

type logged struct {
	Method, Path, Range, Query, UserAgent string
	Status                                int
}

// blob returns the digest a /v2/<name>/blobs/<digest> path names, or "".
func (l logged) blob() digest.Digest {
	_, d, ok := strings.Cut(l.Path, "/blobs/")
	if !ok || strings.HasPrefix(d, "uploads") {
		return ""
	}
	return digest.Digest(d)
}

func newProxy(t testing.TB, reg *registrytest.Registry) *proxy {
	t.Helper()
	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{cut: map[digest.Digest]int64{}, flip: map[digest.Digest]int64{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			p.mu.Lock()
			strip := p.stripRange
			p.mu.Unlock()
			if strip {
				pr.Out.Header.Del("Range")
			}
		},
		// Flush at once, so the bytes before a cut reach the client.
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			p.wrapBody(resp)
			return nil
		},
		ErrorLog: nil,
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := &logged{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Query: r.URL.RawQuery, UserAgent: r.UserAgent()}
		// Logged on arrival, so a request's place in the log is when it
		// was made, not when its (perhaps long) answer ended.
		p.record(l)
		isBlobGET := r.Method == http.MethodGet && l.blob() != ""
		if isBlobGET {
			n := p.inflight.Add(1)
			defer p.inflight.Add(-1)
			for {
				m := p.maxInflight.Load()
				if n <= m || p.maxInflight.CompareAndSwap(m, n) {
					break
				}
			}
			p.mu.Lock()
			d := p.blobDelay
			p.mu.Unlock()
			time.Sleep(d)
		}
		if strings.Contains(r.URL.Path, "/manifests/") {
			p.mu.Lock()
			fail := p.fail503 > 0
			if fail {
				p.fail503--
			}
			p.mu.Unlock()
			if fail {
				p.setStatus(l, http.StatusServiceUnavailable)
				http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`, http.StatusServiceUnavailable)
				return
			}
		}
		sw := &statusWriter{ResponseWriter: w}
		// Deferred: a cut body aborts the handler with a panic.
		defer func() { p.setStatus(l, sw.status) }()
		rp.ServeHTTP(sw, r)
	}))
	t.Cleanup(p.srv.Close)
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *proxy) record(l *logged) {
	p.mu.Lock()
	p.log = append(p.log, l)
	p.mu.Unlock()
}

func (p *proxy) setStatus(l *logged, status int) {
	p.mu.Lock()
	l.Status = status
	p.mu.Unlock()
}

// requests returns the log so far.
func (p *proxy) requests() []logged {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]logged, len(p.log))
	for i, l := range p.log {
		out[i] = *l
	}
	return out
}

// reset clears the log and the concurrency high-water mark.
func (p *proxy) reset() {
	p.mu.Lock()
	p.log = nil
	p.mu.Unlock()
	p.maxInflight.Store(0)
}

// blobGETs counts the GETs of each blob in reqs.
func blobGETs(reqs []logged) map[digest.Digest]int {
	m := map[digest.Digest]int{}
	for _, l := range reqs {
		if l.Method == http.MethodGet && l.blob() != "" {
			m[l.blob()]++
		}
	}
	return m
}

func (p *proxy) wrapBody(resp *http.Response) {
	req := resp.Request
	if req.Method != http.MethodGet {
		return
	}
	_, ds, ok := strings.Cut(req.URL.Path, "/blobs/")
	if !ok || strings.HasPrefix(ds, "uploads") {
		return
	}
	d := digest.Digest(ds)
	var start int64
	if resp.StatusCode == http.StatusPartialContent {
		cr := strings.TrimPrefix(resp.Header.Get("Content-Range"), "bytes ")
		s, _, _ := strings.Cut(cr, "-")
		start, _ = strconv.ParseInt(s, 10, 64)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := &mangledBody{r: resp.Body, off: start, cut: -1, flip: -1, rate: p.rate}
	if n, ok := p.cut[d]; ok {
		b.cut = n
		delete(p.cut, d)
	}
	if n, ok := p.flip[d]; ok {
		b.flip = n
	}
	resp.Body = b
}

// mangledBody passes a blob body through, flipping one byte, cutting the
// stream, or pacing it as configured.
type mangledBody struct {
	r    io.ReadCloser
	off  int64 // blob offset of the next byte
	sent int64
	cut  int64
	flip int64
	rate int64
}

var errCut = errors.New("proxy: connection cut on purpose")

func (b *mangledBody) Read(p []byte) (int, error) {
	if b.cut >= 0 && b.sent >= b.cut {
		return 0, errCut
	}
	if b.cut >= 0 && int64(len(p)) > b.cut-b.sent {
		p = p[:b.cut-b.sent]
	}
	if b.rate > 0 && len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := b.r.Read(p)
	if b.flip >= b.off && b.flip < b.off+int64(n) {
		p[b.flip-b.off] ^= 0xff
	}
	b.off += int64(n)
	b.sent += int64(n)
	if b.rate > 0 && n > 0 {
		time.Sleep(time.Duration(int64(n) * int64(time.Second) / b.rate))
	}
	return n, err
}

func (b *mangledBody) Close() error { return b.r.Close() }

// statuses lists the statuses of the events with the given id, in order.
func statuses(events []distribution.Progress, id string) []string {
	var out []string
	for _, e := range events {
		if e.ID == id {
			out = append(out, e.Status)
		}
	}
	return out
}

// short is docker's 12-digit id of a digest.
func short(d digest.Digest) string { return d.Encoded()[:12] }

// layerDescs are the layer descriptors of a ggcr image.
func layerDescs(t testing.TB, img v1.Image) []ocispec.Descriptor {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []ocispec.Descriptor
	for _, l := range m.Layers {
		out = append(out, ocispec.Descriptor{MediaType: string(l.MediaType), Digest: digest.Digest(l.Digest.String()), Size: l.Size})
	}
	return out
}
