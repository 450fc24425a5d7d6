package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/reference"
	sdk "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/progress"
)

type pullOptions struct {
	remote   string
	all      bool
	platform string
	quiet    bool
}

func newPullCommand(a *app) *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.remote = args[0]
			return runPull(cmd.Context(), a, o)
		},
		Annotations:           map[string]string{"aliases": "berth image pull, berth pull"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all-tags", "a", false, "Download all tagged images in the repository")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&o.platform, "platform", a.set.getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	return cmd
}

func runPull(ctx context.Context, a *app, o pullOptions) error {
	ref, err := a.remoteRef(o.remote, o.all, o.quiet)
	if err != nil {
		return err
	}
	out := a.streams.Out
	if o.quiet {
		out = io.Discard
	}
	if err := a.pullImage(ctx, ref.String(), o.platform, o.all, out); err != nil {
		return err
	}
	fmt.Fprintln(a.streams.Out, ref.String())
	return nil
}

// remoteRef parses pull's or push's NAME[:TAG] as the docker CLI does: a
// tag with --all-tags is refused, and a bare name gets "latest", said
// unless quiet.
func (a *app) remoteRef(remote string, all, quiet bool) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(remote)
	switch {
	case err != nil:
		return nil, err
	case all && !reference.IsNameOnly(ref):
		return nil, errors.New("tag can't be used with --all-tags/-a")
	case !all && reference.IsNameOnly(ref):
		ref = reference.TagNameOnly(ref)
		if tagged, ok := ref.(reference.Tagged); ok && !quiet {
			fmt.Fprintln(a.streams.Out, "Using default tag:", tagged.Tag())
		}
	}
	return ref, nil
}

// pullImage pulls image, drawing the daemon's progress on out (a terminal
// gets docker's in-place bars).
func (a *app) pullImage(ctx context.Context, image, platform string, all bool, out io.Writer) error {
	var platforms []ocispec.Platform
	if platform != "" {
		p, err := parsePlatform(platform)
		if err != nil {
			return err
		}
		platforms = append(platforms, p)
	}
	auth, err := a.encodedAuthFor(image)
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return err
	}
	resp, err := c.ImagePull(ctx, reference.FamiliarString(ref), sdk.ImagePullOptions{
		RegistryAuth: auth, All: all, Platforms: platforms,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	return a.showProgress(resp, out)
}

// showProgress renders a progress stream on out.
func (a *app) showProgress(r io.Reader, out io.Writer) error {
	_, width := terminalSize(out)
	return progress.Display(r, out, progress.Options{Terminal: isTerminal(out), Width: int(width)})
}

// pullImageTo pulls image for run and create; out nil means quietly.
func (a *app) pullImageTo(ctx context.Context, image, platform string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	return a.pullImage(ctx, image, platform, false, out)
}
