package cli

import "github.com/spf13/cobra"

// addCommands builds the tree: docker's top-level shortcuts and the
// container, image and system groups with the same subcommands.
func (a *app) addCommands(root *cobra.Command) {
	root.AddCommand(
		// Management groups.
		newContainerCommand(a),
		newImageCommand(a),
		newNetworkCommand(a),
		newSystemCommand(a),
		newVolumeCommand(a),

		// Container shortcuts.
		newAttachCommand(a),
		newCommitCommand(a),
		newCpCommand(a),
		newCreateCommand(a),
		newDiffCommand(a),
		newExecCommand(a),
		newExportCommand(a),
		newKillCommand(a),
		newLogsCommand(a),
		newPauseCommand(a),
		newPortCommand(a),
		newPsCommand(a),
		newRenameCommand(a),
		newRestartCommand(a),
		newRmCommand(a),
		newRunCommand(a),
		newStartCommand(a),
		newStatsCommand(a),
		newStopCommand(a),
		newTopCommand(a),
		newUnpauseCommand(a),
		newUpdateCommand(a),
		newWaitCommand(a),

		// Image shortcuts.
		newHistoryCommand(a),
		newImagesCommand(a),
		newImportCommand(a),
		newLoadCommand(a),
		newPullCommand(a),
		newPushCommand(a),
		newRmiCommand(a),
		newSaveCommand(a),
		newSearchCommand(a),
		newTagCommand(a),
		newLoginCommand(a),
		newLogoutCommand(a),

		// System.
		newEventsCommand(a),
		newInfoCommand(a),
		newInspectCommand(a),
		newVersionCommand(a),
	)
}
