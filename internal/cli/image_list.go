package cli

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
	"github.com/berth-project/berth/internal/cli/opts"
)

const (
	imagesTable       = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince}}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
	imagesDigestTable = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince}}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

var imagesHeader = format.Header{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
	"Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}

type imagesOptions struct {
	match   string
	quiet   bool
	all     bool
	noTrunc bool
	digests bool
	format  string
	filter  *opts.Filter
}

func newImagesCommand(a *app) *cobra.Command {
	o := imagesOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.match = args[0]
			}
			return runImages(cmd.Context(), a, o)
		},
		Annotations:           map[string]string{"aliases": "berth image ls, berth image list, berth images"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	f.StringVar(&o.format, "format", "", tableFormatHelp)
	f.VarP(o.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func newImageListCommand(a *app) *cobra.Command {
	cmd := newImagesCommand(a)
	cmd.Use = "ls [OPTIONS] [REPOSITORY[:TAG]]"
	cmd.Aliases = []string{"list"}
	return cmd
}

func runImages(ctx context.Context, a *app, o imagesOptions) error {
	filters := o.filter.Filters()
	if o.match != "" {
		filters.Add("reference", o.match)
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.ImageList(ctx, sdk.ImageListOptions{All: o.all, Filters: filters})
	if err != nil {
		return err
	}
	user := o.format
	if user == "" && !o.quiet {
		user = a.config().ImagesFormat
	}
	f := imagesFormat(user, o.quiet, o.digests)
	showDigest := o.digests || strings.Contains(string(f), "{{.Digest}}")
	var rows []any
	for _, img := range res.Items {
		for _, r := range imageRows(img, showDigest, o.digests) {
			r.trunc = !o.noTrunc
			rows = append(rows, r)
		}
	}
	return format.Write(a.streams.Out, f, imagesHeader, rows)
}

func imagesFormat(user string, quiet, digests bool) format.Format {
	switch {
	case quiet:
		return "{{.ID}}"
	case user == "" || user == format.Table:
		if digests {
			return imagesDigestTable
		}
		return imagesTable
	}
	f := format.Format(user)
	if f.IsTable() && digests && !strings.Contains(user, "{{.Digest}}") {
		f += `\t{{.Digest}}`
	}
	return f
}

// imageRows expands an image into docker's rows: one per repository:tag
// (and per digest of that repository when digests are shown), then one per
// repository known only by digest; an image with neither is one
// "<none> <none>" row.
func imageRows(img image.Summary, needDigest, digestRows bool) []imageRow {
	if dangling(img) {
		return []imageRow{{i: img, repo: "<none>", tag: "<none>", digest: "<none>"}}
	}
	tags := map[string][]string{}
	digests := map[string][]string{}
	var repos []string
	for _, s := range img.RepoTags {
		ref, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			continue
		}
		if t, ok := ref.(reference.NamedTagged); ok {
			name := reference.FamiliarName(ref)
			if _, seen := tags[name]; !seen {
				repos = append(repos, name)
			}
			tags[name] = append(tags[name], t.Tag())
		}
	}
	var digestOnly []string
	for _, s := range img.RepoDigests {
		ref, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			continue
		}
		if c, ok := ref.(reference.Canonical); ok {
			name := reference.FamiliarName(ref)
			if _, tagged := tags[name]; !tagged {
				if _, seen := digests[name]; !seen {
					digestOnly = append(digestOnly, name)
				}
			}
			digests[name] = append(digests[name], c.Digest().String())
		}
	}
	sort.Strings(repos)
	sort.Strings(digestOnly)
	var rows []imageRow
	for _, repo := range repos {
		ds := digests[repo]
		if !needDigest {
			ds = nil
		}
		for _, tag := range tags[repo] {
			if len(ds) == 0 {
				rows = append(rows, imageRow{i: img, repo: repo, tag: tag, digest: "<none>"})
				continue
			}
			for _, d := range ds {
				rows = append(rows, imageRow{i: img, repo: repo, tag: tag, digest: d})
			}
		}
	}
	for _, repo := range digestOnly {
		if !digestRows {
			rows = append(rows, imageRow{i: img, repo: repo, tag: "<none>"})
			continue
		}
		for _, d := range digests[repo] {
			rows = append(rows, imageRow{i: img, repo: repo, tag: "<none>", digest: d})
		}
	}
	return rows
}

func dangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" &&
		len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

// imageRow is one line of images as templates see it.
type imageRow struct {
	i                 image.Summary
	repo, tag, digest string
	trunc             bool
}

func (r imageRow) MarshalJSON() ([]byte, error) { return format.MarshalMethods(r) }

func (r imageRow) ID() string {
	if r.trunc {
		return format.TruncateID(r.i.ID)
	}
	return r.i.ID
}

func (r imageRow) Repository() string { return r.repo }
func (r imageRow) Tag() string        { return r.tag }
func (r imageRow) Digest() string     { return r.digest }

func (r imageRow) CreatedSince() string {
	if r.i.Created == 0 {
		return ""
	}
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.i.Created, 0))) + " ago"
}

func (r imageRow) CreatedAt() string { return time.Unix(r.i.Created, 0).String() }

func (r imageRow) Size() string { return units.HumanSizeWithPrecision(float64(r.i.Size), 3) }

func (r imageRow) Containers() string {
	if r.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(r.i.Containers, 10)
}

func (r imageRow) SharedSize() string {
	if r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.SharedSize))
}

func (r imageRow) UniqueSize() string {
	if r.i.Size == -1 || r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.Size - r.i.SharedSize))
}
