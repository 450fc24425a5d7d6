package cli

import (
	"errors"
	"os"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type loadOptions struct {
	input string
	quiet bool
}

func newLoadCommand(a *app) *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := a.streams.In
			if o.input == "" {
				if isTerminal(a.streams.In) {
					return errors.New("requested load from stdin, but stdin is empty")
				}
			} else {
				f, err := os.Open(o.input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			var opts []sdk.ImageLoadOption
			// Progress bars only for a person watching a terminal.
			if o.quiet || !isTerminal(a.streams.Out) {
				opts = append(opts, sdk.ImageLoadWithQuiet(true))
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ImageLoad(cmd.Context(), in, opts...)
			if err != nil {
				return err
			}
			defer res.Close()
			return a.showProgress(res, a.streams.Out)
		},
		Annotations:           map[string]string{"aliases": "berth image load, berth load"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&o.input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}
