package cli

import (
	"context"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newPauseCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return forEachContainer(cmd.Context(), a.streams.Out, args, func(ctx context.Context, id string) error {
				_, err := c.ContainerPause(ctx, id, sdk.ContainerPauseOptions{})
				return err
			})
		},
		Annotations:           map[string]string{"aliases": "berth container pause, berth pause"},
		DisableFlagsInUseLine: true,
	}
}
