package cli

import (
	"context"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newKillCommand(a *app) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return forEachContainer(cmd.Context(), a.streams.Out, args, func(ctx context.Context, id string) error {
				_, err := c.ContainerKill(ctx, id, sdk.ContainerKillOptions{Signal: signal})
				return err
			})
		},
		Annotations:           map[string]string{"aliases": "berth container kill, berth kill"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}
