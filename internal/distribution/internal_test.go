package distribution

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/errdefs"
)

// TestInsecurePolicy is the decision docker makes for --insecure-registry:
// loopback always, the rest only when configured, and names never resolved.
func TestInsecurePolicy(t *testing.T) {
	o, err := makeOptions(WithInsecureRegistries("myreg.example:5000", "10.1.0.0/16", "plain.example", "http://schemed.example:8080/"))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"127.0.0.1:5000":       true,
		"127.1.2.3":            true,
		"localhost:5000":       true,
		"LOCALHOST":            true,
		"[::1]:5000":           true,
		"::1":                  true,
		"myreg.example:5000":   true,
		"myreg.example:5001":   false,
		"myreg.example":        false,
		"plain.example:1234":   true,
		"schemed.example:8080": true,
		"10.1.200.3:5000":      true,
		"10.2.0.1:5000":        false,
		"192.168.1.1:5000":     false, // ggcr would try http here; docker does not
		"foo.localhost:5000":   false,
		"localhost.example":    false,
		"128.0.0.1":            false,
		"[::2]:5000":           false,
		"[::ffff:127.0.0.1]:1": true,
		"registry-1.docker.io": false,
	} {
		if got := o.insecure.allows(host); got != want {
			t.Errorf("allows(%q) = %v, want %v", host, got, want)
		}
	}
	d, err := makeOptions()
	if err != nil {
		t.Fatal(err)
	}
	if d.insecure.allows("myreg.example:5000") || d.insecure.allows("10.1.0.1") {
		t.Error("the defaults allow more than loopback")
	}
}

// recorder is a base transport that records requests and sends nothing.
type recorder struct{ urls []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.Scheme+"://"+req.URL.Host)
	return nil, errNoNetwork
}

var errNoNetwork = errors.New("test transport: no network")

func authConfigFor(user string) registry.AuthConfig { return registry.AuthConfig{Username: user} }

// TestPlainHTTPRefusedBeforeSending: for a registry that is not insecure,
// no plain-HTTP request reaches the transport (ggcr's ping would try one
// for an RFC 1918 address); once configured, one does.
func TestPlainHTTPRefusedBeforeSending(t *testing.T) {
	for _, tc := range []struct {
		insecure []string
		wantHTTP bool
	}{{nil, false}, {[]string{"10.9.8.7:5000"}, true}} {
		rec := &recorder{}
		c, err := New(WithTransport(rec), WithInsecureRegistries(tc.insecure...), WithRetries(0, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		// Ping, then give up: the recorder answers nothing.
		_, err = c.Pull(context.Background(), "10.9.8.7:5000/app:latest", nil)
		if err == nil {
			t.Fatal("pull through a transport that sends nothing succeeded")
		}
		sawHTTP := false
		for _, u := range rec.urls {
			if strings.HasPrefix(u, "http://") {
				sawHTTP = true
			}
			if !strings.HasSuffix(u, "10.9.8.7:5000") {
				t.Errorf("request to %s", u)
			}
		}
		if sawHTTP != tc.wantHTTP {
			t.Errorf("insecure %v: plain HTTP reached the transport: %v (%v)", tc.insecure, sawHTTP, rec.urls)
		}
		if !tc.wantHTTP && !strings.Contains(err.Error(), "refusing plain HTTP") {
			t.Errorf("error does not say why: %v", err)
		}
	}
	// The guard alone, for any scheme but https.
	g := &guardTransport{inner: &recorder{}, policy: defaultInsecurePolicy(), userAgent: "x"}
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/v2/", nil)
	if _, err := g.RoundTrip(req); !errdefs.IsForbidden(err) {
		t.Errorf("guard: %v, want Forbidden", err)
	}
}

// TestOptionsRejectContradictions checks each named check of makeOptions.
func TestOptionsRejectContradictions(t *testing.T) {
	for name, opts := range map[string][]Option{
		"concurrency 0":         {WithConcurrency(0)},
		"auth and keychain":     {WithAuth(authConfigFor("u")), WithKeychain(configKeychain{})},
		"keychain and dir":      {WithKeychain(configKeychain{}), WithConfigDir("/tmp")},
		"mirror with path":      {WithMirrors("https://mirror.example/v2")},
		"mirror without scheme": {WithMirrors("mirror.example")},
		"insecure http mirror":  {WithMirrors("http://mirror.example")},
		"bad insecure entry":    {WithInsecureRegistries("10.0.0.0/33")},
		"empty insecure entry":  {WithInsecureRegistries("")},
		"search limit":          {WithSearchLimit(101)},
		"negative retries":      {WithRetries(-1, time.Second)},
		"zero timeout":          {WithTimeouts(0, time.Second, time.Second, time.Second)},
	} {
		if _, err := makeOptions(opts...); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%s: %v, want InvalidParameter", name, err)
		}
	}
	if _, err := makeOptions(WithMirrors("http://127.0.0.1:5000", "https://mirror.example"), WithInsecureRegistries("10.0.0.0/8")); err != nil {
		t.Errorf("good options refused: %v", err)
	}
	if _, err := makeOptions(WithMirrors("http://mirror.example:5000"), WithInsecureRegistries("mirror.example:5000")); err != nil {
		t.Errorf("an insecure mirror configured as such: %v", err)
	}
}

// TestEndpoints: Docker Hub's mirrors come first, then registry-1; other
// registries are themselves.
func TestEndpoints(t *testing.T) {
	o, err := makeOptions(WithMirrors("https://m1.example", "http://127.0.0.1:5001"))
	if err != nil {
		t.Fatal(err)
	}
	got := o.endpoints("docker.io")
	want := []endpoint{{"m1.example", true}, {"127.0.0.1:5001", true}, {"registry-1.docker.io", false}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	if got := o.endpoints("quay.io"); len(got) != 1 || got[0].host != "quay.io" || got[0].mirror {
		t.Fatalf("quay.io: %v", got)
	}
	for in, want := range map[string]string{
		"":                            "docker.io",
		"https://index.docker.io/v1/": "docker.io",
		"registry-1.docker.io":        "docker.io",
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"http://Reg.Example:5000/":    "reg.example:5000",
	} {
		if got, err := registryHost(in); err != nil || got != want {
			t.Errorf("registryHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string][3]string{
		"busybox":                          {"docker.io", "library/busybox", "latest"},
		"127.0.0.1:5000/a/b:v1":            {"127.0.0.1:5000", "a/b", "v1"},
		"localhost/x@sha256:" + hex64('a'): {"localhost", "x", "sha256:" + hex64('a')},
		"x:tag@sha256:" + hex64('b'):       {"docker.io", "library/x", "sha256:" + hex64('b')},
		"index.docker.io/library/alpine:3": {"docker.io", "library/alpine", "3"},
	} {
		r, err := parseRef(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := [3]string{r.domain, r.path, r.object()}; got != want {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
	for _, bad := range []string{"", "Upper Case", "x@sha256:short", "a//b"} {
		if _, err := parseRef(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func hex64(c byte) string { return strings.Repeat(string(c), 64) }

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][3]int64{
		"bytes 100-199/200": {100, 200, 1},
		"bytes 0-9/*":       {0, -1, 1},
		"bytes 5-9":         {0, 0, 0},
		"items 0-9/10":      {0, 0, 0},
		"bytes x-9/10":      {0, 0, 0},
		"bytes -5-9/10":     {0, 0, 0},
	} {
		s, total, ok := parseContentRange(in)
		got := [3]int64{s, total, 0}
		if ok {
			got[2] = 1
		} else {
			got = [3]int64{0, 0, 0}
		}
		if got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

// TestProgressSinkNeverBlocks: with nobody reading, sending returns at
// once, byte counts of one blob merge, and close delivers the rest once a
// reader comes.
func TestProgressSinkNeverBlocks(t *testing.T) {
	ch := make(chan Progress)
	s := newProgressSink(ch)
	start := time.Now()
	for i := range 100000 {
		s.Send(Progress{ID: "layer", Status: StatusDownloading, Current: int64(i), Total: 100000})
	}
	s.Send(Progress{ID: "layer", Status: StatusDownloadComplete})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("sending took %v with no reader", d)
	}
	var got []Progress
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range ch {
			got = append(got, p)
		}
	}()
	s.Close(context.Background())
	close(ch)
	<-done
	if len(got) > 3 {
		t.Errorf("%d events delivered: counts were not merged", len(got))
	}
	last := got[len(got)-1]
	if last.Status != StatusDownloadComplete {
		t.Errorf("last event %+v", last)
	}
	for _, p := range got {
		if p.Status == StatusDownloading && p.Current != 99999 && len(got) == 2 {
			t.Errorf("merged count %d, want the newest", p.Current)
		}
	}
	// A close whose ctx is done gives up on a reader that never comes.
	s = newProgressSink(make(chan Progress))
	s.Send(Progress{Status: "x"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	s.Close(ctx)
}

// TestJSONMessageWriter renders events as docker's daemon does.
func TestJSONMessageWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewJSONMessageWriter(&buf)
	d := digest.Digest("sha256:" + hex64('c'))
	for _, p := range []Progress{
		{ID: "latest", Status: "Pulling from library/busybox"},
		{ID: "cccccccccccc", Status: StatusPullingFSLayer, Digest: d},
		{ID: "cccccccccccc", Status: StatusDownloading, Current: 512, Total: 2048, Digest: d},
		{ID: "cccccccccccc", Status: StatusDownloadComplete, Digest: d},
		{Status: "Digest: " + d.String()},
		{Aux: PushAux{Tag: "v1", Digest: d.String(), Size: 10}},
	} {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteError(errdefs.ErrUnauthorized); err != nil {
		t.Fatal(err)
	}
	want := `{"status":"Pulling from library/busybox","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"cccccccccccc"}
{"status":"Downloading","progressDetail":{"current":512,"total":2048},"id":"cccccccccccc"}
{"status":"Download complete","progressDetail":{},"id":"cccccccccccc"}
{"status":"Digest: sha256:` + hex64('c') + `"}
{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:` + hex64('c') + `","Size":10}}
{"errorDetail":{"message":"unauthorized"},"error":"unauthorized"}
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestByteCounterRateLimit: at most one count per 512 KiB or 100 ms, and
// always the last.
func TestByteCounterRateLimit(t *testing.T) {
	ch := make(chan Progress, 1000)
	s := newProgressSink(ch)
	c := &byteCounter{sink: s, id: "x", status: StatusDownloading, total: 10 << 20}
	c.set(0)
	for range (10 << 20) / (32 << 10) {
		c.add(32 << 10)
	}
	s.Close(context.Background())
	close(ch)
	n := 0
	var last Progress
	for p := range ch {
		n++
		last = p
	}
	if n > 10<<20/progressEveryBytes+2 {
		t.Errorf("%d count events for 10 MiB", n)
	}
	if last.Current != 10<<20 {
		t.Errorf("last count %d", last.Current)
	}
}

func TestRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		errRetry:                    true,
		errdefs.ErrUnauthorized:     false,
		context.Canceled:            false,
		classify(errNoNetwork):      false, // not a network error we know
		errStalled:                  true,
		errdefs.ErrNotFound:         false,
		errdefs.ErrInvalidParameter: false,
	} {
		if got := retryable(err); got != want {
			t.Errorf("retryable(%v) = %v, want %v", err, got, want)
		}
	}
}
