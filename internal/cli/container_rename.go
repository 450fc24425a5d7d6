package cli

import (
	"errors"
	"fmt"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newRenameCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			oldName, newName := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
			if oldName == "" || newName == "" {
				return errors.New("Error: Neither old nor new names may be empty") //nolint:staticcheck // docker's wording
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if _, err := c.ContainerRename(cmd.Context(), oldName, sdk.ContainerRenameOptions{NewName: newName}); err != nil {
				fmt.Fprintln(a.streams.Err, err)
				return fmt.Errorf("Error: failed to rename container named %s", oldName) //nolint:staticcheck // docker's wording
			}
			return nil
		},
		Annotations:           map[string]string{"aliases": "berth container rename, berth rename"},
		DisableFlagsInUseLine: true,
	}
}
