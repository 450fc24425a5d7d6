package cli

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
	"github.com/berth-project/berth/internal/cli/opts"
)

const networksTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

var networksHeader = format.Header{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
	"IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

type networkListOptions struct {
	quiet   bool
	noTrunc bool
	format  string
	filter  *opts.Filter
}

func newNetworkListCommand(a *app) *cobra.Command {
	o := networkListOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNetworkList(cmd.Context(), a, o)
		},
		Annotations:           map[string]string{"aliases": "berth network ls, berth network list"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display network IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate the output")
	f.StringVar(&o.format, "format", "", tableFormatHelp)
	f.VarP(o.filter, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}

func runNetworkList(ctx context.Context, a *app, o networkListOptions) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.NetworkList(ctx, sdk.NetworkListOptions{Filters: o.filter.Filters()})
	if err != nil {
		return err
	}
	user := o.format
	if user == "" && !o.quiet {
		user = a.config().NetworksFormat
	}
	f := format.Format(user)
	switch {
	case (user == "" || user == format.Table) && o.quiet:
		f = "{{.ID}}"
	case user == "" || user == format.Table:
		f = networksTable
	}
	nets := res.Items
	sort.SliceStable(nets, func(i, j int) bool { return naturalLess(nets[i].Name, nets[j].Name) })
	rows := make([]any, 0, len(nets))
	for _, n := range nets {
		rows = append(rows, networkRow{n: n.Network, trunc: !o.noTrunc})
	}
	return format.Write(a.streams.Out, f, networksHeader, rows)
}

// networkRow is one line of network ls as templates see it.
type networkRow struct {
	n     network.Network
	trunc bool
}

func (r networkRow) MarshalJSON() ([]byte, error) { return format.MarshalMethods(r) }

func (r networkRow) ID() string {
	if r.trunc {
		return format.TruncateID(r.n.ID)
	}
	return r.n.ID
}

func (r networkRow) Name() string      { return r.n.Name }
func (r networkRow) Driver() string    { return r.n.Driver }
func (r networkRow) Scope() string     { return r.n.Scope }
func (r networkRow) IPv4() string      { return strconv.FormatBool(r.n.EnableIPv4) }
func (r networkRow) IPv6() string      { return strconv.FormatBool(r.n.EnableIPv6) }
func (r networkRow) Internal() string  { return strconv.FormatBool(r.n.Internal) }
func (r networkRow) CreatedAt() string { return r.n.Created.String() }

// Labels are "k=v" joined by commas; docker's order is the map's, ours
// is sorted.
func (r networkRow) Labels() string {
	kv := make([]string, 0, len(r.n.Labels))
	for k, v := range r.n.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (r networkRow) Label(name string) string { return r.n.Labels[name] }
