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
		newAttachCommand(a),
		newCommitCommand(a),
		newCpCommand(a),
		newCreateCommand(a),
		newDiffCommand(a),
		newExecCommand(a),
		newExportCommand(a),
		newContainerInspectCommand(a),
		newKillCommand(a),
		newLogsCommand(a),
		newContainerListCommand(a),
		newPauseCommand(a),
		newPortCommand(a),
		newContainerPruneCommand(a),
		newRenameCommand(a),
		newRestartCommand(a),
		newContainerRmCommand(a),
		newRunCommand(a),
		newStartCommand(a),
		newStatsCommand(a),
		newStopCommand(a),
		newTopCommand(a),
		newUnpauseCommand(a),
		newUpdateCommand(a),
		newWaitCommand(a),
	)
	return cmd
}
