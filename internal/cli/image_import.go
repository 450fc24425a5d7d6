package cli

import (
	"os"
	"strings"

	sdk "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

type importOptions struct {
	changes  *opts.List
	message  string
	platform string
}

func newImportCommand(a *app) *cobra.Command {
	o := importOptions{changes: opts.NewList(nil)}
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var src sdk.ImageImportSource
			switch name := args[0]; {
			case name == "-":
				src = sdk.ImageImportSource{Source: a.streams.In, SourceName: "-"}
			case strings.HasPrefix(name, "https://"), strings.HasPrefix(name, "http://"):
				src = sdk.ImageImportSource{SourceName: name}
			default:
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				src = sdk.ImageImportSource{Source: f, SourceName: "-"}
			}
			var ref string
			if len(args) > 1 {
				ref = args[1]
			}
			var platform ocispec.Platform
			if o.platform != "" {
				var err error
				if platform, err = parsePlatform(o.platform); err != nil {
					return err
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.ImageImport(cmd.Context(), src, ref, sdk.ImageImportOptions{
				Message: o.message, Changes: o.changes.Values(), Platform: platform,
			})
			if err != nil {
				return err
			}
			defer res.Close()
			return a.showProgress(res, a.streams.Out)
		},
		Annotations:           map[string]string{"aliases": "berth image import, berth import"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.VarP(o.changes, "change", "c", "Apply Dockerfile instruction to the created image")
	f.StringVarP(&o.message, "message", "m", "", "Set commit message for imported image")
	f.StringVar(&o.platform, "platform", a.set.getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	return cmd
}
