package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

const (
	anonymousVolumesPruneWarning = `WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue?`
	allVolumesPruneWarning = `WARNING! This will remove all local volumes not used by at least one container.
Are you sure you want to continue?`
)

func newVolumePruneCommand(a *app) *cobra.Command {
	o := pruneOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filters := o.filter.Filters()
			warning := anonymousVolumesPruneWarning
			if o.all {
				if err := a.requireAPI(cmd.Context(), "--all", "1.42"); err != nil {
					return err
				}
				if _, ok := filters["all"]; ok {
					return errors.New("conflicting options: cannot specify both --all and --filter all=1")
				}
				filters.Add("all", "true")
				warning = allVolumesPruneWarning
			}
			if !o.force && !a.confirm(warning) {
				return nil
			}
			reclaimed, out, err := pruneVolumes(cmd.Context(), a, filters)
			if err != nil {
				return err
			}
			a.printPruned(out, reclaimed)
			return nil
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	f.Var(o.filter, "filter", `Provide filter values (e.g. "label=<label>")`)
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// pruneVolumes removes unused volumes and reports them as docker lists
// them.
func pruneVolumes(ctx context.Context, a *app, filters sdk.Filters) (uint64, string, error) {
	c, err := a.client()
	if err != nil {
		return 0, "", err
	}
	res, err := c.VolumePrune(ctx, sdk.VolumePruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	if len(res.Report.VolumesDeleted) == 0 {
		return 0, "", nil
	}
	out := "Deleted Volumes:\n"
	for _, name := range res.Report.VolumesDeleted {
		out += name + "\n"
	}
	return res.Report.SpaceReclaimed, out, nil
}

// requireAPI refuses a flag the daemon's API version predates, with the
// docker CLI's words (API 1.42 made volume prune remove only anonymous
// volumes and brought --all; an older daemon would refuse its filter).
func (a *app) requireAPI(ctx context.Context, flag, version string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	if _, err := c.Ping(ctx, sdk.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return err
	}
	if v := c.ClientVersion(); versionLess(v, version) {
		return fmt.Errorf(`"%s" requires API version %s, but the Docker daemon API version is %s`, flag, version, v)
	}
	return nil
}

// versionLess compares API versions ("1.41" < "1.42" < "1.100").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
