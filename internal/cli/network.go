package cli

import "github.com/spf13/cobra"

func newNetworkCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage networks",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newNetworkConnectCommand(a),
		newNetworkCreateCommand(a),
		newNetworkDisconnectCommand(a),
		newNetworkInspectCommand(a),
		newNetworkListCommand(a),
		newNetworkPruneCommand(a),
		newNetworkRmCommand(a),
	)
	return cmd
}
