package cli

import (
	"fmt"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

const networkPruneWarning = `WARNING! This will remove all custom networks not used by at least one container.
Are you sure you want to continue?`

func newNetworkPruneCommand(a *app) *cobra.Command {
	o := pruneOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.force && !a.confirm(networkPruneWarning) {
				return nil
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.NetworkPrune(cmd.Context(), sdk.NetworkPruneOptions{Filters: o.filter.Filters()})
			if err != nil {
				return err
			}
			if len(res.Report.NetworksDeleted) > 0 {
				// docker prints the list and then an empty line.
				fmt.Fprintln(a.streams.Out, "Deleted Networks:\n"+strings.Join(res.Report.NetworksDeleted, "\n")+"\n")
			}
			return nil
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	f.Var(o.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
