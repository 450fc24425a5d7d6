package cli

import (
	"context"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newUnpauseCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return forEachContainer(cmd.Context(), a.streams.Out, args, func(ctx context.Context, id string) error {
				_, err := c.ContainerUnpause(ctx, id, sdk.ContainerUnpauseOptions{})
				return err
			})
		},
		Annotations:           map[string]string{"aliases": "berth container unpause, berth unpause"},
		DisableFlagsInUseLine: true,
	}
}
