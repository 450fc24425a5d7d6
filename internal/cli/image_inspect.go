package cli

import (
	"github.com/spf13/cobra"
)

func newImageInspectCommand(a *app) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return inspectAll(a.streams.Out, args, o.format, imageLookup(cmd.Context(), c))
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "", inspectFormatHelp)
	return cmd
}
