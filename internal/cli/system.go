package cli

import "github.com/spf13/cobra"

func newSystemCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage Berth",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newDfCommand(a),
		newEventsCommand(a),
		newInfoCommand(a),
		newSystemPruneCommand(a),
	)
	return cmd
}
