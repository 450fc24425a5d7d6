package cli

import (
	"fmt"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/client"
	"github.com/berth-project/berth/internal/errdefs"
)

func newNetworkRmCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			// Like docker: each network in turn, errors on stderr, the
			// others still removed, exit status 1 if any failed.
			failed := false
			for _, name := range args {
				// docker looks first (to warn about swarm's ingress
				// network); Berth has none, but asks the same way.
				_, _ = c.NetworkInspect(cmd.Context(), name, sdk.NetworkInspectOptions{})
				if _, err := c.NetworkRemove(cmd.Context(), name, sdk.NetworkRemoveOptions{}); err != nil {
					if force && errdefs.IsNotFound(client.Classify(err)) {
						continue
					}
					fmt.Fprintln(a.streams.Err, err)
					failed = true
					continue
				}
				fmt.Fprintln(a.streams.Out, name)
			}
			if failed {
				// docker 28 ends with this line too.
				return StatusError{Status: "exit status 1", Code: 1}
			}
			return nil
		},
		Annotations:           map[string]string{"aliases": "berth network rm, berth network remove"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}
