package cli

import "github.com/spf13/cobra"

// addCommands builds the tree: docker's top-level shortcuts and the
// container, image and system groups with the same subcommands.
func (a *app) addCommands(root *cobra.Command) {
	root.AddCommand(
		newContainerCommand(a),
		newCreateCommand(a),
		newPullCommand(a),
		newRunCommand(a),
		newImageCommand(a),
		newImagesCommand(a),
		newInspectCommand(a),
		newPsCommand(a),
		newVersionCommand(a),
	)
}
