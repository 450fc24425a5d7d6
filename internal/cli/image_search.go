package cli

import (
	"strconv"
	"strings"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
	"github.com/berth-project/berth/internal/cli/opts"
)

const searchTable = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"

var searchHeader = format.Header{
	"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL",
}

type searchOptions struct {
	noTrunc bool
	limit   int
	format  string
	filter  *opts.Filter
}

func newSearchCommand(a *app) *cobra.Command {
	o := searchOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search a registry for images",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			auth, err := authconfig.Encode(a.authFor(searchRegistry(args[0])))
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ImageSearch(cmd.Context(), args[0], sdk.ImageSearchOptions{
				RegistryAuth: auth, Filters: o.filter.Filters(), Limit: o.limit,
			})
			if err != nil {
				return err
			}
			f := format.Format(o.format).Or(searchTable)
			rows := make([]any, len(res.Items))
			for i, s := range res.Items {
				rows[i] = searchRow{s: s, trunc: !o.noTrunc}
			}
			return format.Write(a.streams.Out, f, searchHeader, rows)
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.VarP(o.filter, "filter", "f", "Filter output based on conditions provided")
	f.IntVar(&o.limit, "limit", 0, "Max number of search results")
	f.StringVar(&o.format, "format", "", "Pretty-print search using a Go template")
	return cmd
}

// searchRegistry is the registry a search term names: its first part when
// that looks like a host, else Docker Hub.
func searchRegistry(term string) string {
	host, _, ok := strings.Cut(term, "/")
	if !ok || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return "docker.io"
	}
	return host
}

// searchRow is one search result.
type searchRow struct {
	s     registry.SearchResult
	trunc bool
	json  bool
}

func (r searchRow) MarshalJSON() ([]byte, error) {
	r.json = true
	return format.MarshalMethods(r)
}

func (r searchRow) Name() string { return r.s.Name }

func (r searchRow) Description() string {
	d := strings.NewReplacer("\n", " ", "\r", " ").Replace(r.s.Description)
	if r.trunc {
		d = format.Ellipsis(d, 45)
	}
	return d
}

func (r searchRow) StarCount() string { return strconv.Itoa(r.s.StarCount) }

func (r searchRow) IsOfficial() string { return r.flag(r.s.IsOfficial) }

func (r searchRow) flag(v bool) string {
	switch {
	case r.json:
		return strconv.FormatBool(v)
	case v:
		return "[OK]"
	}
	return ""
}
