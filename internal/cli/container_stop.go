package cli

import (
	"context"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// stopOptions are the flags stop and restart share.
type stopOptions struct {
	signal  string
	timeout int
}

func (o *stopOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.signal, "signal", "s", "", "Signal to send to the container")
	f.IntVarP(&o.timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	f.IntVar(&o.timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	f.MarkHidden("time")
}

// timeoutSet is the timeout when given, else nil: the daemon then uses the
// container's own stop timeout.
func (o *stopOptions) timeoutSet(cmd *cobra.Command) *int {
	if cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time") {
		return &o.timeout
	}
	return nil
}

func newStopCommand(a *app) *cobra.Command {
	var o stopOptions
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			opts := sdk.ContainerStopOptions{Signal: o.signal, Timeout: o.timeoutSet(cmd)}
			return forEachContainer(cmd.Context(), a.streams.Out, args, func(ctx context.Context, id string) error {
				_, err := c.ContainerStop(ctx, id, opts)
				return err
			})
		},
		Annotations:           map[string]string{"aliases": "berth container stop, berth stop"},
		DisableFlagsInUseLine: true,
	}
	o.addFlags(cmd)
	return cmd
}
