package cli

import (
	"context"
	"sort"
	"strconv"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
	"github.com/berth-project/berth/internal/cli/opts"
)

const (
	volumesTable        = "table {{.Driver}}\t{{.Name}}"
	clusterVolumesTable = "table {{.Name}}\t{{.Group}}\t{{.Driver}}\t{{.Availability}}\t{{.Status}}"
)

var volumesHeader = format.Header{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
	"Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS",
}

type volumeListOptions struct {
	quiet   bool
	cluster bool
	format  string
	filter  *opts.Filter
}

func newVolumeListCommand(a *app) *cobra.Command {
	o := volumeListOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVolumeList(cmd.Context(), a, o)
		},
		Annotations:           map[string]string{"aliases": "berth volume ls, berth volume list"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVar(&o.cluster, "cluster", false, "Display only cluster volumes, and use cluster volume list formatting")
	f.VarP(o.filter, "filter", "f", `Provide filter values (e.g. "dangling=true")`)
	f.StringVar(&o.format, "format", "", tableFormatHelp)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display volume names")
	return cmd
}

func runVolumeList(ctx context.Context, a *app, o volumeListOptions) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.VolumeList(ctx, sdk.VolumeListOptions{Filters: o.filter.Filters()})
	if err != nil {
		return err
	}
	vols := res.Items
	user := o.format
	if o.cluster {
		// Cluster volumes are swarm's: a Berth daemon lists none.
		n := 0
		for _, v := range vols {
			if v.ClusterVolume != nil {
				vols[n] = v
				n++
			}
		}
		vols = vols[:n]
		if user == "" && !o.quiet {
			user = clusterVolumesTable
		}
	} else if user == "" && !o.quiet {
		user = a.config().VolumesFormat
	}
	f := format.Format(user)
	switch {
	case (user == "" || user == format.Table) && o.quiet:
		f = "{{.Name}}"
	case user == "" || user == format.Table:
		f = volumesTable
	}
	sort.SliceStable(vols, func(i, j int) bool { return naturalLess(vols[i].Name, vols[j].Name) })
	rows := make([]any, 0, len(vols))
	for _, v := range vols {
		rows = append(rows, volumeRow{v})
	}
	return format.Write(a.streams.Out, f, volumesHeader, rows)
}

// The rest of volumeRow (system_df.go has Name, Links and Size): what
// volume ls templates may use.

func (r volumeRow) Driver() string     { return r.v.Driver }
func (r volumeRow) Scope() string      { return r.v.Scope }
func (r volumeRow) Mountpoint() string { return r.v.Mountpoint }

// Labels are "k=v" joined by commas, sorted (docker's order is the map's).
func (r volumeRow) Labels() string {
	kv := make([]string, 0, len(r.v.Labels))
	for k, v := range r.v.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (r volumeRow) Label(name string) string { return r.v.Labels[name] }

func (r volumeRow) Group() string {
	if r.v.ClusterVolume == nil {
		return "N/A"
	}
	return r.v.ClusterVolume.Spec.Group
}

func (r volumeRow) Availability() string {
	if r.v.ClusterVolume == nil {
		return "N/A"
	}
	return string(r.v.ClusterVolume.Spec.Availability)
}

func (r volumeRow) Status() string {
	cv := r.v.ClusterVolume
	switch {
	case cv == nil:
		return "N/A"
	case cv.Info == nil || cv.Info.VolumeID == "":
		return "pending creation"
	case len(cv.PublishStatus) == 0:
		return "created"
	case len(cv.PublishStatus) == 1:
		return "in use (1 node)"
	}
	return "in use (" + strconv.Itoa(len(cv.PublishStatus)) + " nodes)"
}
