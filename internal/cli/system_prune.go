package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	units "github.com/docker/go-units"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
	"github.com/berth-project/berth/internal/client"
	"github.com/berth-project/berth/internal/errdefs"
)

type systemPruneOptions struct {
	force, all, volumes bool
	filter              *opts.Filter
}

func newSystemPruneCommand(a *app) *cobra.Command {
	o := systemPruneOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSystemPrune(cmd.Context(), a, o)
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused images not just dangling ones")
	f.BoolVar(&o.volumes, "volumes", false, "Prune anonymous volumes")
	f.Var(o.filter, "filter", `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}

func runSystemPrune(ctx context.Context, a *app, o systemPruneOptions) error {
	filters := o.filter.Filters()
	// docker refuses this before asking: volume prune has no "until".
	if _, ok := filters["until"]; ok && o.volumes {
		return errors.New(`ERROR: The "until" filter is not supported with "--volumes"`)
	}
	if !o.force && !a.confirm(systemPruneWarning(o, filters)) {
		return nil
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	// A daemon without networks, volumes or a build cache answers those
	// prunes with NotFound or NotImplemented: nothing to remove there.
	absent := func(err error) bool {
		err = client.Classify(err)
		return errdefs.IsNotFound(err) || errdefs.IsNotImplemented(err)
	}
	var total uint64
	report := func(n uint64, out string) {
		total += n
		if out != "" {
			fmt.Fprintln(a.streams.Out, out)
		}
	}
	n, out, err := pruneContainers(ctx, a, filters)
	if err != nil {
		return err
	}
	report(n, out)
	if res, err := c.NetworkPrune(ctx, sdk.NetworkPruneOptions{Filters: filters}); err == nil {
		if len(res.Report.NetworksDeleted) > 0 {
			report(0, "Deleted Networks:\n"+strings.Join(res.Report.NetworksDeleted, "\n")+"\n")
		}
	} else if !absent(err) {
		return err
	}
	if o.volumes {
		if res, err := c.VolumePrune(ctx, sdk.VolumePruneOptions{Filters: filters}); err == nil {
			out := ""
			if len(res.Report.VolumesDeleted) > 0 {
				out = "Deleted Volumes:\n" + strings.Join(res.Report.VolumesDeleted, "\n") + "\n"
			}
			report(res.Report.SpaceReclaimed, out)
		} else if !absent(err) {
			return err
		}
	}
	n, out, err = pruneImages(ctx, a, o.all, filters)
	if err != nil {
		return err
	}
	report(n, out)
	if res, err := c.BuildCachePrune(ctx, sdk.BuildCachePruneOptions{All: o.all, Filters: filters}); err == nil {
		out := ""
		if len(res.Report.CachesDeleted) > 0 {
			out = "Deleted build cache objects:\n" + strings.Join(res.Report.CachesDeleted, "\n") + "\n"
		}
		report(res.Report.SpaceReclaimed, out)
	} else if !absent(err) {
		return err
	}
	fmt.Fprintln(a.streams.Out, "Total reclaimed space:", units.HumanSize(float64(total)))
	return nil
}

func systemPruneWarning(o systemPruneOptions, filters sdk.Filters) string {
	warnings := []string{"all stopped containers", "all networks not used by at least one container"}
	if o.volumes {
		warnings = append(warnings, "all anonymous volumes not used by at least one container")
	}
	if o.all {
		warnings = append(warnings, "all images without at least one container associated to them", "all build cache")
	} else {
		warnings = append(warnings, "all dangling images", "unused build cache")
	}
	var b strings.Builder
	b.WriteString("WARNING! This will remove:")
	for _, w := range warnings {
		b.WriteString("\n  - " + w)
	}
	b.WriteString("\n")
	if len(filters) > 0 {
		var terms []string
		for k, vs := range filters {
			for v := range vs {
				terms = append(terms, k+"="+v)
			}
		}
		sort.Strings(terms)
		b.WriteString("\n  Items to be pruned will be filtered with:")
		for _, t := range terms {
			b.WriteString("\n  - " + t)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nAre you sure you want to continue?")
	return b.String()
}
