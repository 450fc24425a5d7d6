package distribution_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// loopbackOnly sends requests to loopback addresses and refuses (and
// records) every other, so tests that name docker.io never leave the host.
type loopbackOnly struct {
	mu      sync.Mutex
	refused []string
	inner   http.RoundTripper
}

func (l *loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Hostname()
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		l.mu.Lock()
		l.refused = append(l.refused, r.URL.Host)
		l.mu.Unlock()
		return nil, errors.New("test: no traffic off the host")
	}
	return l.inner.RoundTrip(r)
}

// TestMirror: a docker.io pull goes to the mirror first; a mirror without
// the image hands over to registry-1.docker.io (which the test transport
// refuses, so nothing leaves the host).
func TestMirror(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mirror := registrytest.Start(t)
	img := randomImage(t, 1, 1024, 40)
	imagetest.Push(t, mirror, "library/mirrored:latest", img)
	lo := &loopbackOnly{inner: http.DefaultTransport}
	opts := []distribution.Option{distribution.WithTransport(lo), distribution.WithMirrors(mirror.URL()), fastRetries}

	res, err := distribution.Pull(ctx, "mirrored", newStore(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Endpoint != mirror.Host || res.Ref != "docker.io/library/mirrored:latest" {
		t.Fatalf("pulled %s from %s", res.Ref, res.Endpoint)
	}
	if len(lo.refused) != 0 {
		t.Fatalf("went past the mirror: %v", lo.refused)
	}
	// The source label names Docker Hub, where the blob lives, not the
	// mirror: a push to docker.io can mount from it.
	store := newStore(t)
	if _, err := distribution.Pull(ctx, "docker.io/library/mirrored", store, opts...); err != nil {
		t.Fatal(err)
	}
	info, err := store.Info(ctx, layerDescs(t, img)[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Labels[distribution.SourceLabel("docker.io")]; got != "library/mirrored" {
		t.Errorf("source label %q", got)
	}

	_, err = distribution.Pull(ctx, "notmirrored:latest", newStore(t), opts...)
	if err == nil {
		t.Fatal("pulled an image neither the mirror nor (the refused) upstream has")
	}
	if !slices.Contains(lo.refused, "registry-1.docker.io") {
		t.Fatalf("did not fall back to registry-1.docker.io: %v (%v)", lo.refused, err)
	}
	// Other registries never use the mirror.
	other := registrytest.Start(t)
	imagetest.Push(t, other, "elsewhere:latest", img)
	if _, err := distribution.Pull(ctx, other.Ref("elsewhere:latest"), newStore(t), opts...); err != nil {
		t.Fatal(err)
	}
}

// TestSearchCatalog: the distribution registry has no /v1/search, so the
// catalog is filtered.
func TestSearchCatalog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("carol", "pw"))
	img := randomImage(t, 1, 512, 41)
	for _, repo := range []string{"alpha/one", "beta/two", "alphabet"} {
		imagetest.Push(t, reg, repo+":latest", img)
	}
	c, err := distribution.New()
	if err != nil {
		t.Fatal(err)
	}
	auth := distribution.WithAuth(authConfig(reg))
	res, err := c.Search(ctx, reg.Host, "ALPHA", auth)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if want := []string{reg.Host + "/alpha/one", reg.Host + "/alphabet"}; !slices.Equal(names, want) {
		t.Fatalf("search: %q, want %q", names, want)
	}
	res, err = c.Search(ctx, reg.Host, "", auth, distribution.WithSearchLimit(2))
	if err != nil || len(res) != 2 {
		t.Fatalf("limited search: %v, %v", res, err)
	}
	if _, err := c.Search(ctx, reg.Host, "alpha", distribution.WithConfigDir(t.TempDir()), fastRetries); !errdefs.IsUnauthorized(err) {
		t.Fatalf("search without credentials: %v", err)
	}
}

// TestSearchV1: a registry with a v1 search API is asked through it.
func TestSearchV1(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.WriteHeader(http.StatusOK)
		case "/v1/search":
			if r.URL.Query().Get("q") != "redis" || r.URL.Query().Get("n") != "25" {
				http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"query":"redis","num_results":1,"results":[{"name":"redis","description":"key-value","star_count":10,"is_official":true}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := distribution.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(t.Context(), srv.URL, "redis")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Name != "redis" || !res[0].IsOfficial || res[0].StarCount != 10 {
		t.Fatalf("%+v", res)
	}
}

// TestSchema1Refused: a registry that serves only a schema 1 manifest gets
// a clear NotImplemented, not a parse error.
func TestSchema1Refused(t *testing.T) {
	t.Parallel()
	body := []byte(`{"schemaVersion":1,"name":"old","tag":"latest","architecture":"amd64","fsLayers":[{"blobSum":"sha256:` + strings.Repeat("a", 64) + `"}],"history":[{"v1Compatibility":"{}"}],"signatures":[]}`)
	dgst := digest.FromBytes(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(r.URL.Path, "/v2/old/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
			w.Header().Set("Docker-Content-Digest", dgst.String())
			if r.Method == http.MethodGet {
				_, _ = w.Write(body)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	_, err := distribution.Pull(t.Context(), host+"/old:latest", newStore(t))
	if !errdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "schema 1") {
		t.Fatalf("got %v", err)
	}
}

// TestUnreachable: a registry that is gone is Unavailable, at once (a
// refused connection is not retried).
func TestUnreachable(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	reg.Stop()
	start := time.Now()
	_, err := distribution.Pull(t.Context(), reg.Ref("gone:latest"), newStore(t))
	if !errdefs.IsUnavailable(err) {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to give up on a refused connection", d)
	}
}

// TestWithoutStatusLines: the caller can send the closing lines itself.
func TestWithoutStatusLines(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	imagetest.Push(t, reg, "quiet:latest", randomImage(t, 1, 512, 42))
	_, events, err := pullEvents(t, t.Context(), reg.Ref("quiet:latest"), newStore(t), distribution.WithoutStatusLines())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.HasPrefix(e.Status, "Digest:") || strings.HasPrefix(e.Status, "Status:") {
			t.Errorf("sent %q", e.Status)
		}
	}
}
