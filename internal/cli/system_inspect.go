package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/client"
	"github.com/berth-project/berth/internal/errdefs"
)

// The object types inspect looks through, in docker's order (swarm objects
// are left out: berthd has none).
var inspectTypes = []string{"container", "image", "network", "volume"}

type inspectOptions struct {
	format     string
	objectType string
	size       bool
}

func newInspectCommand(a *app) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Berth objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("type") && o.objectType == "" {
				return fmt.Errorf(`type is empty: must be one of "%s"`, strings.Join(inspectTypes, `", "`))
			}
			return runInspect(cmd.Context(), a, o, args)
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "", inspectFormatHelp)
	f.StringVar(&o.objectType, "type", "", "Only inspect objects of the given type")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

func runInspect(ctx context.Context, a *app, o inspectOptions, refs []string) error {
	switch o.objectType {
	case "", "container", "image", "network", "volume":
	default:
		return fmt.Errorf(`unknown type: %q: must be one of "%s"`, o.objectType, strings.Join(inspectTypes, `", "`))
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	lookups := map[string]lookupFunc{
		"container": containerLookup(ctx, c, o.size),
		"image":     imageLookup(ctx, c),
		"network": func(ref string) (inspected, error) {
			res, err := c.NetworkInspect(ctx, ref, sdk.NetworkInspectOptions{})
			return inspected{res.Network, res.Raw}, err
		},
		"volume": func(ref string) (inspected, error) {
			res, err := c.VolumeInspect(ctx, ref, sdk.VolumeInspectOptions{})
			return inspected{res.Volume, res.Raw}, err
		},
	}
	return inspectAll(a.streams.Out, refs, o.format, func(ref string) (inspected, error) {
		for _, typ := range inspectTypes {
			if o.objectType != "" && typ != o.objectType {
				continue
			}
			obj, err := lookups[typ](ref)
			if err != nil {
				if o.objectType == "" && skippable(err) {
					continue
				}
				return obj, err
			}
			if o.size && typ != "container" {
				fmt.Fprintln(a.streams.Err, "WARNING: --size ignored for", typ)
			}
			return obj, nil
		}
		return inspected{}, fmt.Errorf("Error: No such object: %s", ref) //nolint:staticcheck // docker's wording
	})
}

// skippable errors mean "not an object of this type": look at the next.
func skippable(err error) bool {
	return errdefs.IsNotFound(client.Classify(err)) ||
		// An image lookup rejects names that are no image reference;
		// the wire gives only the text.
		strings.Contains(err.Error(), "invalid reference format") ||
		strings.Contains(err.Error(), "not supported")
}

func containerLookup(ctx context.Context, c *client.Client, size bool) lookupFunc {
	return func(ref string) (inspected, error) {
		res, err := c.ContainerInspect(ctx, ref, sdk.ContainerInspectOptions{Size: size})
		return inspected{res.Container, res.Raw}, err
	}
}

func imageLookup(ctx context.Context, c *client.Client) lookupFunc {
	return func(ref string) (inspected, error) {
		var raw bytes.Buffer
		res, err := c.ImageInspect(ctx, ref, sdk.ImageInspectWithRawResponse(&raw))
		return inspected{res.InspectResponse, raw.Bytes()}, err
	}
}
