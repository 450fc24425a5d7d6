package distribution

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"

	"github.com/distribution/reference"

	"github.com/berth-project/berth/internal/errdefs"
)

// Bounds on a tag listing: a repository with more tags than this is not
// pulled whole (docker pull -a of such a thing is a mistake).
const (
	tagsPageSize    = 100
	maxTagsPages    = 100
	maxTagsPerImage = tagsPageSize * maxTagsPages
)

// Tags lists the tags of the repository of ref (its tag or digest, if any,
// is ignored), sorted, from GET /v2/<name>/tags/list and its pages: docker
// pull --all-tags. Mirrors are asked first for Docker Hub, as a pull does.
func (c *Client) Tags(ctx context.Context, ref string, opts ...Option) ([]string, error) {
	o, err := c.callOptions(opts)
	if err != nil {
		return nil, err
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w: %w", ref, err, errdefs.ErrInvalidParameter)
	}
	domain, path := reference.Domain(named), reference.Path(named)
	var errs []error
	for _, ep := range o.endpoints(domain) {
		tags, err := c.tagsFrom(ctx, o, ep, domain, path)
		if err == nil {
			return tags, nil
		}
		errs = append(errs, err)
		if !ep.mirror || ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (c *Client) tagsFrom(ctx context.Context, o *options, ep endpoint, domain, path string) ([]string, error) {
	r, err := c.openRepo(ctx, o, ep, domain, path, "pull", nil)
	if err != nil {
		return nil, err
	}
	next := fmt.Sprintf("https://%s/v2/%s/tags/list?%s", ep.host, path, url.Values{"n": {fmt.Sprint(tagsPageSize)}}.Encode())
	var tags []string
	for page := 0; next != ""; page++ {
		if page == maxTagsPages {
			return nil, fmt.Errorf("%s has more than %d tags: %w", path, maxTagsPerImage, errdefs.ErrInvalidParameter)
		}
		var list struct {
			Tags []string `json:"tags"`
		}
		var link string
		err := o.retry(ctx, func() error {
			var err error
			link, err = getJSONLink(ctx, r.client, next, &list)
			return err
		})
		if err != nil {
			return nil, err
		}
		tags = append(tags, list.Tags...)
		next = link
	}
	sort.Strings(tags)
	return tags, nil
}
