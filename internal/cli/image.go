package cli

import "github.com/spf13/cobra"

func newImageCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newHistoryCommand(a),
		newImportCommand(a),
		newImageInspectCommand(a),
		newLoadCommand(a),
		newImageListCommand(a),
		newImagePruneCommand(a),
		newPullCommand(a),
		newPushCommand(a),
		newImageRmCommand(a),
		newSaveCommand(a),
		newTagCommand(a),
	)
	return cmd
}
