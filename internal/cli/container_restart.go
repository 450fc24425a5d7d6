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
			opts := sdk.ContainerRestartOptions{Signal: o.signal}
			if cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time") {
				opts.Timeout = &o.timeout
			}
			return forEachContainer(cmd.Context(), a.streams.Out, args, func(ctx context.Context, id string) error {
				_, err := c.ContainerRestart(ctx, id, opts)
				return err
			})
		},
		Annotations:           map[string]string{"aliases": "berth container restart, berth restart"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.StringVarP(&o.signal, "signal", "s", "", "Signal to send to the container")
	f.IntVarP(&o.timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	f.IntVar(&o.timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	f.MarkHidden("time")
	return cmd
}
