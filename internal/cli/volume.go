package cli

import "github.com/spf13/cobra"

func newVolumeCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newVolumeCreateCommand(a),
		newVolumeInspectCommand(a),
		newVolumeListCommand(a),
		newVolumePruneCommand(a),
		newVolumeRmCommand(a),
	)
	return cmd
}
