package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/client"
	"github.com/berth-project/berth/internal/errdefs"
)

type rmOptions struct {
	force, volumes, links bool
}

func newRmCommand(a *app) *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(cmd.Context(), a, o, args)
		},
		Annotations:           map[string]string{"aliases": "berth container rm, berth container remove, berth rm"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	f.BoolVarP(&o.links, "link", "l", false, "Remove the specified link")
	f.BoolVarP(&o.force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return cmd
}

func newContainerRmCommand(a *app) *cobra.Command {
	cmd := newRmCommand(a)
	cmd.Aliases = []string{"remove"}
	return cmd
}

// runRm removes the containers; with -f a container that does not exist is
// reported but is no failure, as docker.
func runRm(ctx context.Context, a *app, o rmOptions, names []string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	errs := parallel(ctx, names, func(ctx context.Context, name string) error {
		name = strings.Trim(name, "/")
		if name == "" {
			return errors.New("container name cannot be empty")
		}
		_, err := c.ContainerRemove(ctx, name, sdk.ContainerRemoveOptions{RemoveVolumes: o.volumes, RemoveLinks: o.links, Force: o.force})
		return err
	})
	var failed []error
	for i, err := range errs {
		switch {
		case err == nil:
			fmt.Fprintln(a.streams.Out, names[i])
		case o.force && errdefs.IsNotFound(client.Classify(err)):
			fmt.Fprintln(a.streams.Err, err)
		default:
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}
