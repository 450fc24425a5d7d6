package distribution

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/berth-project/berth/internal/errdefs"
)

// Client talks to registries. It holds the registry-wide configuration and
// one pool of connections shared by every call; it is safe for concurrent
// use. The zero value is not usable: call New.
type Client struct {
	opts []Option
	base http.RoundTripper
}

// New returns a Client configured by opts (see Option); the options are
// checked here, so a bad configuration fails at daemon start.
func New(opts ...Option) (*Client, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	base := o.transport
	if base == nil {
		base = newHTTPTransport(o)
	}
	return &Client{opts: slices.Clone(opts), base: base}, nil
}

// callOptions are the Client's options with a call's options on top.
func (c *Client) callOptions(opts []Option) (*options, error) {
	return makeOptions(append(slices.Clone(c.opts), opts...)...)
}

func newHTTPTransport(o *options) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: o.dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = o.tlsTimeout
	t.ResponseHeaderTimeout = o.headerTimeout
	// Enough idle connections for the parallel blob transfers of a few
	// concurrent pulls to one registry.
	t.MaxIdleConnsPerHost = 16
	// Blobs are compressed already; asking for gzip would make Go hide
	// the real length and break Range resume.
	t.DisableCompression = true
	return t
}

// guardTransport is the bottom of every stack: it refuses plain HTTP to a
// registry that is not insecure before anything is dialed (ggcr's own
// heuristics would otherwise try http:// for RFC 1918 addresses and
// *.localhost), and sets Berth's User-Agent (below ggcr's, so ours wins).
type guardTransport struct {
	inner     http.RoundTripper
	policy    insecurePolicy
	userAgent string
}

func (g *guardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && !g.policy.allows(r.URL.Host) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("refusing plain HTTP to %s: not an insecure registry (configure it with --insecure-registry): %w", r.URL.Host, errdefs.ErrForbidden)
	}
	// RoundTrippers must not change the caller's request.
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", g.userAgent)
	return g.inner.RoundTrip(r)
}

func (c *Client) guarded(o *options) http.RoundTripper {
	return &guardTransport{inner: c.base, policy: o.insecure, userAgent: o.userAgent}
}

// Docker Hub's names: references say docker.io, credentials are filed under
// the v1 index URL, and the v2 API is served by registry-1.docker.io.
const (
	dockerHubDomain   = "docker.io"
	dockerHubEndpoint = "registry-1.docker.io"
	dockerHubIndex    = "index.docker.io"
	dockerHubAuthKey  = "https://index.docker.io/v1/"
)

// imageRef is a parsed image reference.
type imageRef struct {
	named  reference.Named // normalized: docker.io/library/busybox:latest
	domain string          // docker.io, 127.0.0.1:5000
	path   string          // library/busybox
	tag    string          // "" when by digest
	dgst   string          // "" when by tag
}

// parseRef parses a docker-style reference; a bare name means :latest, and
// name:tag@digest means the digest, as docker does.
func parseRef(s string) (imageRef, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return imageRef{}, fmt.Errorf("reference %q: %w: %w", s, err, errdefs.ErrInvalidParameter)
	}
	named = reference.TagNameOnly(named)
	r := imageRef{named: named, domain: reference.Domain(named), path: reference.Path(named)}
	if d, ok := named.(reference.Digested); ok {
		if err := d.Digest().Validate(); err != nil {
			return imageRef{}, fmt.Errorf("reference %q: %w: %w", s, err, errdefs.ErrInvalidParameter)
		}
		r.dgst = d.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		r.tag = t.Tag()
	}
	return r, nil
}

// object is what the manifest endpoint is asked for: the digest or the tag.
func (r imageRef) object() string {
	if r.dgst != "" {
		return r.dgst
	}
	return r.tag
}

// familiar is the short form docker prints (busybox:latest).
func (r imageRef) familiar() string { return reference.FamiliarString(r.named) }

// endpoint is one server to try for a repository.
type endpoint struct {
	host   string // host[:port] dialed
	mirror bool
}

// endpoints lists the servers for domain in the order to try them:
// mirrors first for Docker Hub, then the registry itself.
func (o *options) endpoints(domain string) []endpoint {
	var eps []endpoint
	if domain == dockerHubDomain {
		for _, m := range o.mirrors {
			eps = append(eps, endpoint{host: m.Host, mirror: true})
		}
		return append(eps, endpoint{host: dockerHubEndpoint})
	}
	return []endpoint{{host: domain}}
}

// registryHost maps a login or search address (a host, a URL, a docker.io
// alias) to the domain its credentials are filed under.
func registryHost(address string) (string, error) {
	a := strings.TrimSpace(address)
	if a == "" {
		return dockerHubDomain, nil
	}
	if !strings.Contains(a, "://") {
		a = "https://" + a
	}
	u, err := url.Parse(a)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("registry address %q: %w", address, errdefs.ErrInvalidParameter)
	}
	h := strings.ToLower(u.Host)
	switch h {
	case dockerHubDomain, dockerHubIndex, dockerHubEndpoint:
		return dockerHubDomain, nil
	}
	return h, nil
}

// endpointHost is the host serving the v2 API of domain.
func endpointHost(domain string) string {
	if domain == dockerHubDomain {
		return dockerHubEndpoint
	}
	return domain
}
