package cli

import (
	"github.com/spf13/cobra"
)

func newContainerInspectCommand(a *app) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return inspectAll(a.streams.Out, args, o.format, containerLookup(cmd.Context(), c, o.size))
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	return cmd
}
