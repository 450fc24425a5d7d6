package cli

import (
	"context"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newRestartCommand(a *app) *cobra.Command {
	var o stopOptions
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			opts := sdk.ContainerRestartOptions{Signal: o.signal, Timeout: o.timeoutSet(cmd)}
			return forEachContainer(cmd.Context(), a.streams.Out, args, func(ctx context.Context, id string) error {
				_, err := c.ContainerRestart(ctx, id, opts)
				return err
			})
		},
		Annotations:           map[string]string{"aliases": "berth container restart, berth restart"},
		DisableFlagsInUseLine: true,
	}
	o.addFlags(cmd)
	return cmd
}
