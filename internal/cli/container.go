package cli

import "github.com/spf13/cobra"

func newContainerCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newContainerListCommand(a),
		newCreateCommand(a),
		newRunCommand(a),
		newContainerInspectCommand(a),
	)
	return cmd
}
