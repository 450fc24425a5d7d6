package cli

import (
	"context"
	"strconv"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

const (
	allImagesWarning = `WARNING! This will remove all images without at least one container associated to them.
Are you sure you want to continue?`
	danglingImagesWarning = `WARNING! This will remove all dangling images.
Are you sure you want to continue?`
)

func newImagePruneCommand(a *app) *cobra.Command {
	o := pruneOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			warning := danglingImagesWarning
			if o.all {
				warning = allImagesWarning
			}
			if !o.force && !a.confirm(warning) {
				return nil
			}
			reclaimed, out, err := pruneImages(cmd.Context(), a, o.all, o.filter.Filters())
			if err != nil {
				return err
			}
			a.printPruned(out, reclaimed)
			return nil
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused images, not just dangling ones")
	f.Var(o.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// pruneImages removes dangling (or with all, every unused) image and
// lists them as docker does.
func pruneImages(ctx context.Context, a *app, all bool, filters sdk.Filters) (uint64, string, error) {
	filters = filters.Clone()
	filters.Add("dangling", strconv.FormatBool(!all))
	c, err := a.client()
	if err != nil {
		return 0, "", err
	}
	res, err := c.ImagePrune(ctx, sdk.ImagePruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	var sb strings.Builder
	if len(res.Report.ImagesDeleted) > 0 {
		sb.WriteString("Deleted Images:\n")
		for _, d := range res.Report.ImagesDeleted {
			if d.Untagged != "" {
				sb.WriteString("untagged: " + d.Untagged + "\n")
			} else {
				sb.WriteString("deleted: " + d.Deleted + "\n")
			}
		}
	}
	return res.Report.SpaceReclaimed, sb.String(), nil
}
