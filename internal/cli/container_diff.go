package cli

import (
	"fmt"

	"github.com/moby/moby/api/types/container"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newDiffCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ContainerDiff(cmd.Context(), args[0], sdk.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, ch := range res.Changes {
				fmt.Fprintf(a.streams.Out, "%s %s\n", changeKind(ch.Kind), ch.Path)
			}
			return nil
		},
		Annotations:           map[string]string{"aliases": "berth container diff, berth diff"},
		DisableFlagsInUseLine: true,
	}
	return cmd
}

// changeKind is docker diff's letter: A added, C changed, D deleted.
func changeKind(k container.ChangeType) string {
	switch k {
	case container.ChangeAdd:
		return "A"
	case container.ChangeDelete:
		return "D"
	case container.ChangeModify:
		return "C"
	}
	return "?"
}
