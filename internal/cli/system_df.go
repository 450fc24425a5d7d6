package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/distribution/reference"
	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
)

const (
	dfTable          = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
	dfImageTable     = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
	dfContainerTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
	dfVolumeTable    = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
	dfCacheTable     = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}"
)

var (
	dfHeader = format.Header{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
	// The verbose tables name columns the way images and ps do.
	dfVolumeHeader = format.Header{"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
	dfCacheHeader  = format.Header{
		"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
		"LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED",
	}
)

type dfOptions struct {
	verbose bool
	format  string
}

func newDfCommand(a *app) *cobra.Command {
	var o dfOptions
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show disk usage",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDf(cmd.Context(), a, o)
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "Show detailed information on space usage")
	cmd.Flags().StringVar(&o.format, "format", "", tableFormatHelp)
	return cmd
}

func runDf(ctx context.Context, a *app, o dfOptions) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	du, err := c.DiskUsage(ctx, sdk.DiskUsageOptions{Containers: true, Images: true, Volumes: true, BuildCache: true, Verbose: o.verbose})
	if err != nil {
		return err
	}
	if o.verbose {
		return writeDfVerbose(a, du)
	}
	rows := []any{
		dfRow{"Images", du.Images.TotalCount, du.Images.ActiveCount, du.Images.TotalSize, du.Images.Reclaimable, true},
		dfRow{"Containers", du.Containers.TotalCount, du.Containers.ActiveCount, du.Containers.TotalSize, du.Containers.Reclaimable, true},
		dfRow{"Local Volumes", du.Volumes.TotalCount, du.Volumes.ActiveCount, du.Volumes.TotalSize, du.Volumes.Reclaimable, true},
		dfRow{"Build Cache", du.BuildCache.TotalCount, du.BuildCache.ActiveCount, du.BuildCache.TotalSize, du.BuildCache.Reclaimable, false},
	}
	return format.Write(a.streams.Out, format.Format(o.format).Or(dfTable), dfHeader, rows)
}

func writeDfVerbose(a *app, du sdk.DiskUsageResult) error {
	out := a.streams.Out
	fmt.Fprint(out, "Images space usage:\n\n")
	var rows []any
	for _, img := range du.Images.Items {
		r := imageRow{i: img, repo: "<none>", tag: "<none>", trunc: true}
		if len(img.RepoTags) > 0 && !dangling(img) {
			ref, err := reference.ParseNormalizedNamed(img.RepoTags[0])
			if err != nil {
				continue
			}
			if t, ok := ref.(reference.NamedTagged); ok {
				r.repo, r.tag = reference.FamiliarName(ref), t.Tag()
			}
		}
		rows = append(rows, r)
	}
	if err := format.Write(out, dfImageTable, imagesHeader, rows); err != nil {
		return err
	}
	fmt.Fprint(out, "\nContainers space usage:\n\n")
	rows = rows[:0]
	for _, ctr := range du.Containers.Items {
		ctr.SizeRootFs = 0
		rows = append(rows, containerRow{c: ctr, trunc: true})
	}
	if err := format.Write(out, dfContainerTable, psHeader, rows); err != nil {
		return err
	}
	fmt.Fprint(out, "\nLocal Volumes space usage:\n\n")
	rows = rows[:0]
	for _, v := range du.Volumes.Items {
		rows = append(rows, volumeRow{v})
	}
	if err := format.Write(out, dfVolumeTable, dfVolumeHeader, rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nBuild cache usage: %s\n\n", units.HumanSize(float64(du.BuildCache.TotalSize)))
	return format.Write(out, dfCacheTable, dfCacheHeader, nil)
}

// dfRow is one line of the df summary.
type dfRow struct {
	kind               string
	total, active      int64
	size, reclaimable  int64
	reclaimablePercent bool
}

func (r dfRow) MarshalJSON() ([]byte, error) { return format.MarshalMethods(r) }
func (r dfRow) Type() string                 { return r.kind }
func (r dfRow) TotalCount() string           { return strconv.FormatInt(r.total, 10) }
func (r dfRow) Active() string               { return strconv.FormatInt(r.active, 10) }
func (r dfRow) Size() string                 { return units.HumanSize(float64(r.size)) }

func (r dfRow) Reclaimable() string {
	if r.reclaimablePercent && r.size > 0 {
		return fmt.Sprintf("%s (%v%%)", units.HumanSize(float64(r.reclaimable)), r.reclaimable*100/r.size)
	}
	return units.HumanSize(float64(r.reclaimable))
}

// volumeRow is a volume in df -v.
type volumeRow struct{ v volume.Volume }

func (r volumeRow) MarshalJSON() ([]byte, error) { return format.MarshalMethods(r) }
func (r volumeRow) Name() string                 { return r.v.Name }

func (r volumeRow) Links() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return strconv.FormatInt(r.v.UsageData.RefCount, 10)
}

func (r volumeRow) Size() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return units.HumanSize(float64(r.v.UsageData.Size))
}
