package cli

import (
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type networkInspectOptions struct {
	format  string
	verbose bool
}

func newNetworkInspectCommand(a *app) *cobra.Command {
	var o networkInspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return inspectAll(a.streams.Out, args, o.format, func(ref string) (inspected, error) {
				res, err := c.NetworkInspect(cmd.Context(), ref, sdk.NetworkInspectOptions{Verbose: o.verbose})
				return inspected{res.Network, res.Raw}, err
			})
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}
