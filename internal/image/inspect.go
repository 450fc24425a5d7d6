package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	imagetypes "github.com/moby/moby/api/types/image"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Inspect returns the image ref names in the shape of the Engine API's
// GET /images/{name}/json.
func (s *Store) Inspect(ctx context.Context, ref string) (imagetypes.InspectResponse, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return imagetypes.InspectResponse{}, err
	}
	res, err := s.Resolve(ctx, img)
	if err != nil {
		return imagetypes.InspectResponse{}, fmt.Errorf("image %s: %w", ref, err)
	}
	g, err := s.groupOf(ctx, res.ID())
	if err != nil {
		return imagetypes.InspectResponse{}, err
	}
	c := res.Config
	out := imagetypes.InspectResponse{
		ID:           res.ID().String(),
		RepoTags:     nonNil(g.repoTags()),
		RepoDigests:  nonNil(g.repoDigests()),
		Comment:      lastComment(c.History),
		Author:       c.Author,
		Config:       &c.Config,
		Architecture: c.Architecture,
		Variant:      c.Variant,
		Os:           c.OS,
		OsVersion:    c.OSVersion,
		RootFS:       imagetypes.RootFS{Type: c.RootFS.Type},
	}
	if c.Created != nil {
		out.Created = c.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, d := range c.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	var last time.Time
	for _, r := range g.records {
		if !r.Dangling() && r.UpdatedAt.After(last) {
			last = r.UpdatedAt
		}
	}
	out.Metadata.LastTagTime = last
	desc := g.records[0].Target
	out.Descriptor = &desc
	out.Size = s.imageSize(ctx, res)
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// lastComment is docker's Comment: the newest history entry's comment
// (docker import's message, a commit's message).
func lastComment(h []ocispec.History) string {
	if len(h) == 0 {
		return ""
	}
	return h[len(h)-1].Comment
}

// imageSize is the image's size on disk as docker reports it: the unpacked
// size of its layers when they are unpacked, else the size of its layer
// blobs.
func (s *Store) imageSize(ctx context.Context, res *Resolved) int64 {
	var total int64
	if s.snapshots != nil {
		chains := identity.ChainIDs(append([]digest.Digest(nil), res.DiffIDs()...))
		ok := true
		for _, id := range chains {
			u, err := s.snapshots.Usage(ctx, id.String())
			if err != nil {
				ok = false
				break
			}
			total += u.Size
		}
		if ok && len(chains) > 0 {
			return total
		}
	}
	total = 0
	for _, l := range res.ManifestBody.Layers {
		total += l.Size
	}
	return total
}

// History returns the image's history, newest first, in the shape of GET
// /images/{name}/history: the entry that made each layer carries the
// layer's size and, for the newest entry, the image's ID and tags; the
// others carry "<missing>", as docker shows for pulled images.
func (s *Store) History(ctx context.Context, ref string) ([]imagetypes.HistoryResponseItem, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	res, err := s.Resolve(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	g, err := s.groupOf(ctx, res.ID())
	if err != nil {
		return nil, err
	}
	sizes := s.layerSizes(ctx, res)
	hist := res.Config.History
	if len(hist) == 0 {
		// An image without history (some tools write none) still has
		// layers: one synthetic entry per layer, as docker shows.
		for range res.DiffIDs() {
			hist = append(hist, ocispec.History{})
		}
	}
	out := make([]imagetypes.HistoryResponseItem, 0, len(hist))
	layer := 0
	for _, h := range hist {
		item := imagetypes.HistoryResponseItem{
			ID:        "<missing>",
			CreatedBy: h.CreatedBy,
			Comment:   h.Comment,
			Tags:      nil,
		}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer {
			if layer < len(sizes) {
				item.Size = sizes[layer]
			}
			layer++
		}
		out = append(out, item)
	}
	// Newest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = res.ID().String()
		out[0].Tags = g.repoTags()
	}
	return out, nil
}

// layerSizes is each layer's own size: its snapshot's usage when
// unpacked, else its blob's size.
func (s *Store) layerSizes(ctx context.Context, res *Resolved) []int64 {
	out := make([]int64, len(res.ManifestBody.Layers))
	chains := identity.ChainIDs(append([]digest.Digest(nil), res.DiffIDs()...))
	for i, l := range res.ManifestBody.Layers {
		out[i] = l.Size
		if s.snapshots != nil && i < len(chains) {
			if u, err := s.snapshots.Usage(ctx, chains[i].String()); err == nil {
				out[i] = u.Size
			}
		}
	}
	return out
}

// ListOptions selects images for List, as docker images does.
type ListOptions struct {
	// All has no effect on a store without intermediate images; kept for
	// the API's shape.
	All bool
	// Filters are docker's: "reference", "dangling", "label", "before",
	// "since", "until"; several values of one key are ORed, keys ANDed.
	Filters map[string][]string
	// Containers counts the containers that use an image (nil: 0, and
	// docker reports -1 when not asked; the daemon decides).
	Containers func(ctx context.Context, id digest.Digest) (int64, error)
}

// List returns one summary per image, newest first, in the shape of GET
// /images/json.
func (s *Store) List(ctx context.Context, opts ListOptions) ([]imagetypes.Summary, error) {
	f, err := s.parseFilters(ctx, opts.Filters)
	if err != nil {
		return nil, err
	}
	gs, err := s.groups(ctx)
	if err != nil {
		return nil, err
	}
	var out []imagetypes.Summary
	for _, g := range gs {
		if !f.match(g) {
			continue
		}
		sum := s.summary(ctx, g, f)
		sum.Containers = -1
		if opts.Containers != nil {
			n, err := opts.Containers(ctx, g.id)
			if err != nil {
				return nil, err
			}
			sum.Containers = n
		}
		out = append(out, sum)
	}
	sortSummaries(out)
	return out, nil
}

func sortSummaries(s []imagetypes.Summary) {
	// Insertion sort would do; sort.Slice keeps it obvious.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].Created > s[j-1].Created || s[j].Created == s[j-1].Created && s[j].ID < s[j-1].ID); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (s *Store) summary(ctx context.Context, g *imageGroup, f *filters) imagetypes.Summary {
	tags, digests := g.repoTags(), g.repoDigests()
	if f != nil && len(f.refs) > 0 {
		// docker images --filter reference=x shows only the matching
		// tags and digests of a matching image: the docker CLI prints a
		// "<none>" row for every repository left in RepoDigests.
		tags, digests = f.keepMatching(tags), f.keepMatching(digests)
	}
	desc := g.records[0].Target
	return imagetypes.Summary{
		ID:          g.id.String(),
		Created:     g.created().Unix(),
		Labels:      g.resolved.Config.Config.Labels,
		ParentID:    "",
		RepoTags:    nonNil(tags),
		RepoDigests: nonNil(digests),
		Size:        s.imageSize(ctx, g.resolved),
		SharedSize:  -1,
		Descriptor:  &desc,
	}
}

// filters is a parsed docker images filter set.
type filters struct {
	refs     []string
	dangling *bool
	labels   []labelFilter
	before   *time.Time
	since    *time.Time
	until    *time.Time
}

type labelFilter struct {
	key, value string
	hasValue   bool
	negate     bool
}

func (s *Store) parseFilters(ctx context.Context, in map[string][]string) (*filters, error) {
	f := &filters{}
	for key, vals := range in {
		switch key {
		case "reference":
			f.refs = append(f.refs, vals...)
		case "dangling":
			for _, v := range vals {
				var b bool
				switch strings.ToLower(v) {
				case "true", "1":
					b = true
				case "false", "0":
				default:
					return nil, fmt.Errorf("invalid filter 'dangling=%s': %w", v, errdefs.ErrInvalidParameter)
				}
				f.dangling = &b
			}
		case "label", "label!":
			for _, v := range vals {
				k, val, has := strings.Cut(v, "=")
				f.labels = append(f.labels, labelFilter{key: k, value: val, hasValue: has, negate: key == "label!"})
			}
		case "before", "since":
			for _, v := range vals {
				img, err := s.Get(ctx, v)
				if err != nil {
					return nil, fmt.Errorf("filter %s=%s: %w", key, v, err)
				}
				res, err := s.Resolve(ctx, img)
				if err != nil {
					return nil, err
				}
				t := time.Time{}
				if res.Config.Created != nil {
					t = *res.Config.Created
				}
				if key == "before" {
					f.before = &t
				} else {
					f.since = &t
				}
			}
		case "until":
			for _, v := range vals {
				t, err := ParseFilterTime(v, time.Now())
				if err != nil {
					return nil, err
				}
				f.until = &t
			}
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", key, errdefs.ErrInvalidParameter)
		}
	}
	return f, nil
}

// keepMatching returns the references among refs that a reference
// filter matches.
func (f *filters) keepMatching(refs []string) []string {
	var kept []string
	for _, r := range refs {
		if f.refMatches(r) {
			kept = append(kept, r)
		}
	}
	return kept
}

func (f *filters) refMatches(familiar string) bool {
	for _, pat := range f.refs {
		if matchReference(pat, familiar) {
			return true
		}
	}
	return false
}

func (f *filters) match(g *imageGroup) bool {
	tags := g.repoTags()
	if f.dangling != nil && (len(tags) == 0) != *f.dangling {
		return false
	}
	if len(f.refs) > 0 {
		ok := false
		for _, t := range append(tags, g.repoDigests()...) {
			if f.refMatches(t) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	labels := g.resolved.Config.Config.Labels
	for _, l := range f.labels {
		v, has := labels[l.key]
		hit := has && (!l.hasValue || v == l.value)
		if hit == l.negate {
			return false
		}
	}
	created := g.created()
	if f.before != nil && !created.Before(*f.before) {
		return false
	}
	if f.since != nil && !created.After(*f.since) {
		return false
	}
	if f.until != nil && created.After(*f.until) {
		return false
	}
	return true
}
