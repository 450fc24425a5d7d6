package distribution

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/errdefs"
)

// Bounds on what a search reads from a registry.
const (
	maxSearchBody    = 4 << 20
	catalogPageSize  = 100
	maxCatalogPages  = 100
	dockerHubV1Index = dockerHubIndex
)

// Search looks for repositories matching term on the registry at
// registryAddr (a host or URL; empty for Docker Hub). It uses the
// registry's v1 search API where there is one (Docker Hub), else lists the
// v2 catalog and keeps the repositories whose name contains term (case
// insensitive), as the distribution registry has no search; catalog
// results are named host/repository, so they can be pulled as they are.
// At most WithSearchLimit results (25) are returned, in the Engine API's
// shape. A registry with neither API is errdefs.ErrNotImplemented.
func (c *Client) Search(ctx context.Context, registryAddr, term string, opts ...Option) ([]registry.SearchResult, error) {
	o, err := c.callOptions(opts)
	if err != nil {
		return nil, err
	}
	domain, err := registryHost(registryAddr)
	if err != nil {
		return nil, err
	}
	host := domain
	if domain == dockerHubDomain {
		host = dockerHubV1Index
	}
	client, err := c.openRegistry(ctx, o, endpoint{host: host}, domain, "", []string{"registry:catalog:*"})
	if err != nil {
		return nil, err
	}
	results, err := searchV1(ctx, o, client, host, term)
	if err == nil || !(errdefs.IsNotFound(err) || errdefs.IsInvalidParameter(err)) {
		return results, err
	}
	// 404 (no such API) or 405: fall back to the catalog.
	results, err = searchCatalog(ctx, o, client, host, term)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("search on %s: the registry has neither /v1/search nor /v2/_catalog: %w", domain, errdefs.ErrNotImplemented)
	}
	return results, err
}

func searchV1(ctx context.Context, o *options, client *http.Client, host, term string) ([]registry.SearchResult, error) {
	q := url.Values{"q": {term}, "n": {strconv.Itoa(o.searchLimit)}}
	var out registry.SearchResults
	err := o.retry(ctx, func() error {
		return getJSON(ctx, client, "https://"+host+"/v1/search?"+q.Encode(), &out)
	})
	if err != nil {
		return nil, err
	}
	if len(out.Results) > o.searchLimit {
		out.Results = out.Results[:o.searchLimit]
	}
	return out.Results, nil
}

func searchCatalog(ctx context.Context, o *options, client *http.Client, host, term string) ([]registry.SearchResult, error) {
	term = strings.ToLower(term)
	next := fmt.Sprintf("https://%s/v2/_catalog?n=%d", host, catalogPageSize)
	results := []registry.SearchResult{}
	for page := 0; next != "" && page < maxCatalogPages; page++ {
		var cat struct {
			Repositories []string `json:"repositories"`
		}
		var link string
		err := o.retry(ctx, func() error {
			var err error
			link, err = getJSONLink(ctx, client, next, &cat)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, repo := range cat.Repositories {
			if strings.Contains(strings.ToLower(repo), term) {
				results = append(results, registry.SearchResult{Name: host + "/" + repo})
				if len(results) == o.searchLimit {
					return results, nil
				}
			}
		}
		next = link
	}
	return results, nil
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	_, err := getJSONLink(ctx, client, u, v)
	return err
}

// getJSONLink GETs u into v and returns the absolute URL of its
// Link rel="next" header (catalog pagination), or "".
func getJSONLink(ctx context.Context, client *http.Client, u string, v any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", classify(err)
	}
	defer drain(resp)
	if err := checkResponse(resp, http.StatusOK); err != nil {
		if resp.StatusCode == http.StatusMethodNotAllowed {
			return "", fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
		}
		return "", err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSearchBody)).Decode(v); err != nil {
		return "", fmt.Errorf("GET %s: %w: %w", req.URL.Path, err, errdefs.ErrUnavailable)
	}
	return nextLink(resp), nil
}

// nextLink parses `Link: </v2/_catalog?last=x&n=100>; rel="next"`.
func nextLink(resp *http.Response) string {
	for _, l := range resp.Header.Values("Link") {
		target, params, ok := strings.Cut(l, ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		u, err := resp.Request.URL.Parse(target)
		if err != nil {
			return ""
		}
		return u.String()
	}
	return ""
}
