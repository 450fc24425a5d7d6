package cli

import (
	"context"
	"fmt"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

type commitOptions struct {
	container, reference string
	author, message      string
	pause                bool
	changes              *opts.List
}

func newCommitCommand(a *app) *cobra.Command {
	o := commitOptions{changes: opts.NewList(nil)}
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.container = args[0]
			if len(args) > 1 {
				o.reference = args[1]
			}
			return runCommit(cmd.Context(), a, o)
		},
		Annotations:           map[string]string{"aliases": "berth container commit, berth commit"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&o.author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.VarP(o.changes, "change", "c", "Apply Dockerfile instruction to the created image")
	f.StringVarP(&o.message, "message", "m", "", "Commit message")
	f.BoolVarP(&o.pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func runCommit(ctx context.Context, a *app, o commitOptions) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.ContainerCommit(ctx, o.container, sdk.ContainerCommitOptions{
		Reference: o.reference,
		Comment:   o.message,
		Author:    o.author,
		Changes:   o.changes.Values(),
		NoPause:   !o.pause,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.streams.Out, res.ID)
	return nil
}
