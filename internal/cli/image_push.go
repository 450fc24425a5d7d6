package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/distribution/reference"
	sdk "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

type pushOptions struct {
	remote   string
	all      bool
	quiet    bool
	platform string
}

func newPushCommand(a *app) *cobra.Command {
	var o pushOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.remote = args[0]
			return runPush(cmd.Context(), a, o)
		},
		Annotations:           map[string]string{"aliases": "berth image push, berth push"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all-tags", "a", false, "Push all tags of an image to the repository")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&o.platform, "platform", a.set.getenv("DOCKER_DEFAULT_PLATFORM"), "Push a platform-specific manifest as a single-platform image to the registry")
	return cmd
}

func runPush(ctx context.Context, a *app, o pushOptions) error {
	var platform *ocispec.Platform
	if o.platform != "" {
		p, err := parsePlatform(o.platform)
		if err != nil {
			return err
		}
		platform = &p
	}
	ref, err := a.remoteRef(o.remote, o.all, o.quiet)
	if err != nil {
		return err
	}
	auth, err := a.encodedAuthFor(ref.String())
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.ImagePush(ctx, reference.FamiliarString(ref), sdk.ImagePushOptions{All: o.all, RegistryAuth: auth, Platform: platform})
	if err != nil {
		return err
	}
	defer res.Close()
	if o.quiet {
		if err := a.showProgress(res, io.Discard); err != nil {
			return err
		}
		fmt.Fprintln(a.streams.Out, ref.String())
		return nil
	}
	return a.showProgress(res, a.streams.Out)
}
