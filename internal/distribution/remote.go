package distribution

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// repo is one repository on one endpoint, with an authenticated client.
// URLs are written with https; ggcr's transport rewrites them to http when
// its ping found the registry speaking plain HTTP (which the guard only
// lets happen for an insecure registry).
type repo struct {
	host   string // endpoint host[:port]
	name   string // repository path on that host
	client *http.Client
}

// openRepo pings ep and sets up authentication for name with the given
// actions ("pull", "push,pull") plus pull on the mount sources.
func (c *Client) openRepo(ctx context.Context, o *options, ep endpoint, domain, name, actions string, mountFrom []string) (*repo, error) {
	scopes := []string{"repository:" + name + ":" + actions}
	for _, src := range mountFrom {
		scopes = append(scopes, "repository:"+src+":pull")
	}
	client, err := c.openRegistry(ctx, o, ep, domain, name, scopes)
	if err != nil {
		return nil, err
	}
	return &repo{host: ep.host, name: name, client: client}, nil
}

// openRegistry pings ep and returns a client that authenticates to it for
// scopes, with the credentials of domain (and repository name, for
// keychains that file credentials per repository).
func (c *Client) openRegistry(ctx context.Context, o *options, ep endpoint, domain, name string, scopes []string) (*http.Client, error) {
	auth, err := o.authenticator(ep, domain, name)
	if err != nil {
		return nil, err
	}
	reg, err := o.nameRegistry(ep.host)
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper
	err = o.retry(ctx, func() error {
		var err error
		rt, err = transport.NewWithContext(ctx, reg, auth, c.guarded(o), scopes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", ep.host, classify(err))
	}
	return &http.Client{Transport: rt}, nil
}

func (r *repo) url(kind, object string) string {
	return fmt.Sprintf("https://%s/v2/%s/%s/%s", r.host, r.name, kind, object)
}

// do sends a request with no body and returns the response if its status is
// one of ok; any other status is the registry's error, classified.
func (r *repo) do(ctx context.Context, method, u string, hdr http.Header, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, classify(err)
	}
	if err := checkResponse(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// drain reads what is left of a small body so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// resolveLocation turns an upload Location header (often relative) into an
// absolute URL.
func resolveLocation(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("registry answered %s %s without a Location", resp.Request.Method, resp.Request.URL.Path)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("upload location %q: %w", loc, err)
	}
	return u, nil
}

// joinRepos is the value of a source label: repositories, comma-separated.
func joinRepos(repos []string) string { return strings.Join(repos, ",") }
