package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/volume"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/cli/opts"
)

// volumeCreateOptions are volume create's flags; the cluster ones make a
// swarm cluster volume, which a daemon outside a swarm refuses.
type volumeCreateOptions struct {
	name       string
	driver     string
	driverOpts *opts.Map
	labels     *opts.List

	cluster           bool
	group             string
	scope             string
	sharing           string
	availability      string
	accessType        string
	secrets           *opts.Map
	requiredBytes     opts.Bytes
	limitBytes        opts.Bytes
	requisiteTopology *opts.List
	preferredTopology *opts.List
}

func newVolumeCreateCommand(a *app) *cobra.Command {
	o := volumeCreateOptions{driverOpts: opts.NewMap(nil), labels: opts.NewList(opts.ValidateLabel), secrets: opts.NewMap(nil),
		requisiteTopology: opts.NewList(nil), preferredTopology: opts.NewList(nil)}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.name != "" {
					return errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
				}
				o.name = args[0]
			}
			o.cluster = clusterVolumeFlagsSet(cmd.Flags())
			return runVolumeCreate(cmd.Context(), a, o)
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "local", "Specify volume driver name")
	f.StringVar(&o.name, "name", "", "Specify volume name")
	f.MarkHidden("name")
	f.VarP(o.driverOpts, "opt", "o", "Set driver specific options")
	f.Var(o.labels, "label", "Set metadata for a volume")

	f.StringVar(&o.availability, "availability", "active", `Cluster Volume availability ("active", "pause", "drain")`)
	f.StringVar(&o.group, "group", "", "Cluster Volume group (cluster volumes)")
	f.Var(&o.limitBytes, "limit-bytes", "Minimum size of the Cluster Volume in bytes")
	f.Var(&o.requiredBytes, "required-bytes", "Maximum size of the Cluster Volume in bytes")
	f.StringVar(&o.scope, "scope", "single", `Cluster Volume access scope ("single", "multi")`)
	f.Var(o.secrets, "secret", "Cluster Volume secrets")
	f.StringVar(&o.sharing, "sharing", "none", `Cluster Volume access sharing ("none", "readonly", "onewriter", "all")`)
	f.Var(o.preferredTopology, "topology-preferred", "A topology that the Cluster Volume would be preferred in")
	f.Var(o.requisiteTopology, "topology-required", "A topology that the Cluster Volume must be accessible from")
	f.StringVar(&o.accessType, "type", "block", `Cluster Volume access type ("mount", "block")`)
	return cmd
}

// clusterVolumeFlagsSet reports whether a cluster-only flag was given:
// the same ones the docker CLI looks at (not --secret or the topologies,
// which alone make no cluster volume there either).
func clusterVolumeFlagsSet(f *pflag.FlagSet) bool {
	for _, name := range []string{"group", "scope", "sharing", "availability", "type", "limit-bytes", "required-bytes"} {
		if f.Changed(name) {
			return true
		}
	}
	return false
}

func runVolumeCreate(ctx context.Context, a *app, o volumeCreateOptions) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	req := sdk.VolumeCreateOptions{
		Name:       o.name,
		Driver:     o.driver,
		DriverOpts: o.driverOpts.Values(),
		Labels:     opts.KVMap(o.labels.Values()),
	}
	if o.cluster {
		req.ClusterVolumeSpec = clusterVolumeSpec(o)
	}
	res, err := c.VolumeCreate(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.streams.Out, res.Volume.Name)
	return nil
}

// clusterVolumeSpec is the request docker sends for a cluster volume.
func clusterVolumeSpec(o volumeCreateOptions) *volume.ClusterVolumeSpec {
	spec := &volume.ClusterVolumeSpec{
		Group:         o.group,
		AccessMode:    &volume.AccessMode{Scope: volume.Scope(o.scope), Sharing: volume.SharingMode(o.sharing)},
		Availability:  volume.Availability(o.availability),
		CapacityRange: &volume.CapacityRange{RequiredBytes: o.requiredBytes.Value(), LimitBytes: o.limitBytes.Value()},
	}
	switch o.accessType {
	case "mount":
		spec.AccessMode.MountVolume = &volume.TypeMount{}
	case "block":
		spec.AccessMode.BlockVolume = &volume.TypeBlock{}
	}
	for k, v := range o.secrets.Values() {
		spec.Secrets = append(spec.Secrets, volume.Secret{Key: k, Secret: v})
	}
	sort.Slice(spec.Secrets, func(i, j int) bool { return spec.Secrets[i].Key < spec.Secrets[j].Key })
	topology := func(values []string) []volume.Topology {
		var out []volume.Topology
		for _, t := range values {
			segments := map[string]string{}
			for _, seg := range strings.Split(t, ",") {
				k, v, _ := strings.Cut(seg, "=")
				segments[k] = v
			}
			out = append(out, volume.Topology{Segments: segments})
		}
		return out
	}
	spec.AccessibilityRequirements = &volume.TopologyRequirement{
		Requisite: topology(o.requisiteTopology.Values()),
		Preferred: topology(o.preferredTopology.Values()),
	}
	return spec
}
