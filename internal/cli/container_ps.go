package cli

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
	"github.com/berth-project/berth/internal/cli/opts"
)

const psTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var psHeader = format.Header{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
	"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
	"Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
	"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
}

type psOptions struct {
	quiet   bool
	size    bool
	all     bool
	noTrunc bool
	latest  bool
	last    int
	format  string
	filter  *opts.Filter
}

func newPsCommand(a *app) *cobra.Command {
	o := psOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPs(cmd.Context(), a, o, cmd.Flags().Changed("size"))
		},
		Annotations:           map[string]string{"aliases": "berth container ls, berth container list, berth container ps, berth ps"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.StringVar(&o.format, "format", "", tableFormatHelp)
	f.VarP(o.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func newContainerListCommand(a *app) *cobra.Command {
	cmd := newPsCommand(a)
	cmd.Use = "ls [OPTIONS]"
	cmd.Aliases = []string{"list", "ps"}
	return cmd
}

func runPs(ctx context.Context, a *app, o psOptions, sizeSet bool) error {
	if o.format == "" {
		o.format = a.config().PsFormat
	} else if o.quiet {
		fmt.Fprintln(a.streams.Err, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	list := sdk.ContainerListOptions{All: o.all, Limit: o.last, Size: o.size, Filters: o.filter.Filters()}
	if o.latest && o.last == -1 {
		list.Limit = 1
	}
	if _, err := format.Parse(format.Format(o.format).Template()); err != nil {
		return fmt.Errorf("failed to parse template: %w", err)
	}
	// Sizes cost the daemon a walk of every container's layer: ask only
	// when the template shows them.
	if !o.quiet && !sizeSet && strings.Contains(o.format, ".Size") {
		list.Size = true
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.ContainerList(ctx, list)
	if err != nil {
		return err
	}
	f := psFormat(o.format, o.quiet, list.Size)
	rows := make([]any, len(res.Items))
	for i, s := range res.Items {
		rows[i] = containerRow{c: s, trunc: !o.noTrunc}
	}
	return format.Write(a.streams.Out, f, psHeader, rows)
}

func psFormat(user string, quiet, size bool) format.Format {
	switch {
	case quiet:
		return "{{.ID}}"
	case user == "" || user == format.Table:
		if size {
			return psTable + `\t{{.Size}}`
		}
		return psTable
	case user == "raw":
		return "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
	}
	return format.Format(user)
}

// containerRow is one container as ps templates see it.
type containerRow struct {
	c     container.Summary
	trunc bool
}

func (r containerRow) MarshalJSON() ([]byte, error) { return format.MarshalMethods(r) }

func (r containerRow) ID() string {
	if r.trunc {
		return format.TruncateID(r.c.ID)
	}
	return r.c.ID
}

// Names drops the leading "/"; truncated, it is the first name that is
// not a legacy link alias ("/other/alias").
func (r containerRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		n = strings.TrimPrefix(n, "/")
		if r.trunc {
			if !strings.Contains(n, "/") {
				return n
			}
			continue
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (r containerRow) Image() string {
	if r.c.Image == "" {
		return "<no image>"
	}
	if !r.trunc {
		return r.c.Image
	}
	if short := format.TruncateID(r.c.ImageID); short == format.TruncateID(r.c.Image) {
		return short
	}
	return familiarImage(r.c.Image)
}

// familiarImage shows a reference as docker does: without docker.io/library
// and without a digest (keeping the tag).
func familiarImage(image string) string {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image
	}
	if _, ok := ref.(reference.Digested); ok {
		tagged, isTagged := ref.(reference.Tagged)
		ref = reference.TrimNamed(ref)
		if isTagged {
			if withTag, err := reference.WithTag(ref, tagged.Tag()); err == nil {
				ref = withTag
			}
		}
	}
	return reference.FamiliarString(ref)
}

func (r containerRow) Command() string {
	cmd := r.c.Command
	if r.trunc {
		cmd = format.Ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (r containerRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }

func (r containerRow) RunningFor() string {
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.c.Created, 0))) + " ago"
}

func (r containerRow) Ports() string { return displayPorts(r.c.Ports) }

func (r containerRow) State() string { return string(r.c.State) }

func (r containerRow) Status() string { return r.c.Status }

func (r containerRow) Size() string {
	rw := units.HumanSizeWithPrecision(float64(r.c.SizeRw), 3)
	if r.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", rw, units.HumanSizeWithPrecision(float64(r.c.SizeRootFs), 3))
	}
	return rw
}

func (r containerRow) Labels() string { return joinLabels(r.c.Labels) }

func (r containerRow) Label(name string) string { return r.c.Labels[name] }

func (r containerRow) Mounts() string {
	var names []string
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = format.Ellipsis(name, 15)
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

func (r containerRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r containerRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	var names []string
	for k := range r.c.NetworkSettings.Networks {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// joinLabels is k=v pairs, sorted, comma separated.
func joinLabels(labels map[string]string) string {
	pairs := make([]string, 0, len(labels))
	for k, v := range labels {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// displayPorts is docker's PORTS column: consecutive ports with the same
// protocol and host address are shown as a range, published ports whose
// host port differs from the container's as "ip:host->port/proto", all
// ordered by container port.
func displayPorts(ports []container.PortSummary) string {
	sorted := append([]container.PortSummary(nil), ports...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.IP != b.IP {
			return portIP(a) < portIP(b)
		}
		if a.PublicPort != b.PublicPort {
			return a.PublicPort < b.PublicPort
		}
		return a.Type < b.Type
	})
	type span struct{ first, last uint16 }
	var (
		order    []string
		spans    = map[string]*span{}
		out      []string
		mappings []string
	)
	for _, p := range sorted {
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != p.PrivatePort {
				hostPort := net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort)))
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", hostPort, p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		s := spans[key]
		switch {
		case s == nil:
			spans[key] = &span{p.PrivatePort, p.PrivatePort}
			order = append(order, key)
		case p.PrivatePort == s.last+1:
			s.last = p.PrivatePort
		default:
			out = append(out, portSpan(key, s.first, s.last))
			spans[key] = &span{p.PrivatePort, p.PrivatePort}
		}
	}
	for _, key := range order {
		out = append(out, portSpan(key, spans[key].first, spans[key].last))
	}
	return strings.Join(append(out, mappings...), ", ")
}

// portIP is the address as docker's JSON has it: "" when unset.
func portIP(p container.PortSummary) string {
	if !p.IP.IsValid() {
		return ""
	}
	return p.IP.String()
}

func portSpan(key string, first, last uint16) string {
	ip, proto, hasIP := strings.Cut(key, "/")
	if !hasIP {
		proto, ip = ip, ""
	}
	ports := strconv.Itoa(int(first))
	if first != last {
		ports += "-" + strconv.Itoa(int(last))
	}
	if ip != "" {
		ports = net.JoinHostPort(ip, ports) + "->" + ports
	}
	return ports + "/" + proto
}
