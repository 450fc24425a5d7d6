package cli

import (
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newTagCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			_, err = c.ImageTag(cmd.Context(), sdk.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		},
		Annotations:           map[string]string{"aliases": "berth image tag, berth tag"},
		DisableFlagsInUseLine: true,
	}
}
