package cli

import (
	"errors"
	"fmt"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/client"
	"github.com/berth-project/berth/internal/errdefs"
)

type rmiOptions struct {
	force, noPrune bool
}

func newRmiCommand(a *app) *cobra.Command {
	var o rmiOptions
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			opts := sdk.ImageRemoveOptions{Force: o.force, PruneChildren: !o.noPrune}
			var errs []error
			fatal := false
			for _, img := range args {
				res, err := c.ImageRemove(cmd.Context(), img, opts)
				if err != nil {
					if !errdefs.IsNotFound(client.Classify(err)) {
						fatal = true
					}
					errs = append(errs, err)
					continue
				}
				for _, d := range res.Items {
					if d.Deleted != "" {
						fmt.Fprintln(a.streams.Out, "Deleted:", d.Deleted)
					} else {
						fmt.Fprintln(a.streams.Out, "Untagged:", d.Untagged)
					}
				}
			}
			// With -f, images that do not exist are reported, not failed.
			if err := errors.Join(errs...); err != nil {
				if !o.force || fatal {
					return err
				}
				fmt.Fprintln(a.streams.Err, err)
			}
			return nil
		},
		Annotations:           map[string]string{"aliases": "berth image rm, berth image remove, berth rmi"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&o.noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func newImageRmCommand(a *app) *cobra.Command {
	cmd := newRmiCommand(a)
	cmd.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
	cmd.Aliases = []string{"remove", "rmi"}
	return cmd
}
