package cli

import (
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newVolumeInspectCommand(a *app) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return inspectAll(a.streams.Out, args, tmpl, func(ref string) (inspected, error) {
				res, err := c.VolumeInspect(cmd.Context(), ref, sdk.VolumeInspectOptions{})
				return inspected{res.Volume, res.Raw}, err
			})
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", inspectFormatHelp)
	return cmd
}
