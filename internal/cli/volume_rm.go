package cli

import (
	"errors"
	"fmt"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newVolumeRmCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			// Like docker: each volume in turn, the others still removed,
			// every error joined into one at the end.
			var errs []string
			for _, name := range args {
				if _, err := c.VolumeRemove(cmd.Context(), name, sdk.VolumeRemoveOptions{Force: force}); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(a.streams.Out, name)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
		Annotations:           map[string]string{"aliases": "berth volume rm, berth volume remove"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}
