package cli

import (
	"errors"
	"fmt"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newWaitCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, id := range args {
				res := c.ContainerWait(cmd.Context(), id, sdk.ContainerWaitOptions{})
				select {
				case r := <-res.Result:
					fmt.Fprintf(a.streams.Out, "%d\n", r.StatusCode)
				case err := <-res.Error:
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
		Annotations:           map[string]string{"aliases": "berth container wait, berth wait"},
		DisableFlagsInUseLine: true,
	}
}
