// Package images_test is the image store's acceptance tests: whole pulls
// through transfer.Pull from a real registry into a content store, the
// real overlay snapshotter and an image store, SIGKILLed at random points
// and resumed; a container run with bin/berth-runtime on an unpacked
// image; and Berth's save, load and unpack against skopeo and umoci.
//
// They need root (CI is root), Debian's docker-registry, skopeo, umoci and
// busybox-static, and `make` for bin/berth-runtime.
package images_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/mount"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/overlay"
	"github.com/berth-project/berth/internal/testenv"
)

func TestMain(m *testing.M) {
	// The test binary is also the pulling process that the crash test
	// kills (crash_test.go).
	if root := os.Getenv(childRootEnv); root != "" {
		os.Exit(crashChild(root, os.Getenv(childRefEnv)))
	}
	os.Exit(m.Run())
}

// stores is an image store as the daemon opens one: blobs, overlay
// snapshots and records, each in its own directory under one root.
type stores struct {
	root   string
	images *image.Store
	sn     *overlay.Snapshotter
}

// openStores opens (or makes) the stores under root; opening clears what
// a killed writer left.
func openStores(ctx context.Context, root string) (*stores, error) {
	cs, err := content.NewStore(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	sn, err := overlay.NewSnapshotter(filepath.Join(root, "overlay"))
	if err != nil {
		return nil, err
	}
	images, err := image.NewStore(ctx, filepath.Join(root, "images"), cs, sn)
	if err != nil {
		sn.Close()
		return nil, err
	}
	return &stores{root: root, images: images, sn: sn}, nil
}

func (s *stores) close() error { return s.sn.Close() }

// newStores opens stores in a fresh directory of t, closed when t ends.
func newStores(t testing.TB) *stores {
	t.Helper()
	testenv.RequireRoot(t)
	s, err := openStores(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	return s
}

// withView mounts a read-only view of the committed snapshot top in a
// temporary directory and calls fn with it; the view is unmounted and
// removed after.
func withView(t testing.TB, sn snapshot.Snapshotter, top string, fn func(root string)) {
	t.Helper()
	ctx := context.Background()
	key := "test-view-" + testenv.UniqueName(t, "")
	mounts, err := sn.View(ctx, key, top)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sn.Remove(ctx, key); err != nil {
			t.Errorf("remove view %s: %v", key, err)
		}
	}()
	dir := t.TempDir()
	if err := mount.All(mounts, dir); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := mount.UnmountAll(dir, 0); err != nil {
			t.Errorf("unmount view: %v", err)
		}
	}()
	fn(dir)
}

// mountsBelow lists the mount points at or under dir.
func mountsBelow(t testing.TB, dir string) []string {
	t.Helper()
	return testenv.MountsUnder(t, dir)
}

// request is one request the proxy passed on.
type request struct {
	Method string
	Path   string
	Range  string
}

// blob is the digest a blob request names, or "".
func (r request) blob() digest.Digest {
	i := strings.LastIndex(r.Path, "/blobs/")
	if i < 0 || strings.Contains(r.Path, "/blobs/uploads") {
		return ""
	}
	return digest.Digest(r.Path[i+len("/blobs/"):])
}

// proxy stands between the puller and the registry: it logs every request
// (so a test counts what was fetched, and how) and sends blob bodies at
// most rate bytes a second per response, so a pull lasts long enough to be
// killed anywhere in it.
type proxy struct {
	Host string
	rate int64

	mu  sync.Mutex
	log []request
	srv *httptest.Server
}

func newProxy(t testing.TB, upstream string, rate int64) *proxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{rate: rate}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		// Every byte as soon as it is read, so a kill finds a partial
		// download rather than one stuck in a buffer here.
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodGet && (request{Path: resp.Request.URL.Path}).blob() != "" && p.rate > 0 {
				resp.Body = &throttled{r: resp.Body, rate: p.rate, start: time.Now()}
			}
			return nil
		},
		// A killed client cuts its connection mid-body: expected, quiet.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.log = append(p.log, request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range")})
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p
}

// requests returns the log so far.
func (p *proxy) requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.log...)
}

// throttled reads at most rate bytes a second, averaged from start.
type throttled struct {
	r     io.ReadCloser
	rate  int64
	start time.Time
	n     int64
}

func (t *throttled) Read(b []byte) (int, error) {
	if len(b) > 32<<10 {
		b = b[:32<<10]
	}
	n, err := t.r.Read(b)
	t.n += int64(n)
	due := time.Duration(float64(t.n) / float64(t.rate) * float64(time.Second))
	if wait := due - time.Since(t.start); wait > 0 {
		time.Sleep(wait)
	}
	return n, err
}

func (t *throttled) Close() error { return t.r.Close() }

// assertConsistent fails t unless the image store's check (every blob
// rehashed, records resolve, unpacked chains whole, no leftover) finds
// nothing and every recorded image is unpacked.
func assertConsistent(t testing.TB, s *stores) {
	t.Helper()
	ctx := context.Background()
	rep, err := s.images.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Unrepaired() {
		t.Errorf("check: %s", p)
	}
	recs, err := s.images.Records(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, ok, err := s.images.Unpacked(ctx, r); err != nil || !ok {
			t.Errorf("%s is recorded but not unpacked (%v)", r.Name, err)
		}
	}
}
