package cli

import (
	"context"
	"fmt"
	"strings"

	units "github.com/docker/go-units"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

type pruneOptions struct {
	force  bool
	all    bool
	filter *opts.Filter
}

// printPruned shows what a prune removed, then the space it freed, in
// the docker CLI's words.
func (a *app) printPruned(out string, reclaimed uint64) {
	if out != "" {
		fmt.Fprintln(a.streams.Out, out)
	}
	fmt.Fprintln(a.streams.Out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
}

func newContainerPruneCommand(a *app) *cobra.Command {
	o := pruneOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.force && !a.confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
				return nil
			}
			reclaimed, out, err := pruneContainers(cmd.Context(), a, o.filter.Filters())
			if err != nil {
				return err
			}
			a.printPruned(out, reclaimed)
			return nil
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(o.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// pruneContainers removes stopped containers and reports them as docker
// lists them.
func pruneContainers(ctx context.Context, a *app, filters sdk.Filters) (uint64, string, error) {
	c, err := a.client()
	if err != nil {
		return 0, "", err
	}
	res, err := c.ContainerPrune(ctx, sdk.ContainerPruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	var out strings.Builder
	if len(res.Report.ContainersDeleted) > 0 {
		out.WriteString("Deleted Containers:\n")
		for _, id := range res.Report.ContainersDeleted {
			out.WriteString(id + "\n")
		}
	}
	return res.Report.SpaceReclaimed, out.String(), nil
}
