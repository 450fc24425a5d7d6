package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
)

type updateOptions struct {
	blkioWeight                     uint16
	cpuPeriod, cpuQuota             int64
	cpuRtPeriod, cpuRtRuntime       int64
	cpuShares, pidsLimit            int64
	cpusetCpus, cpusetMems, restart string
	cpus                            opts.NanoCPUs
	memory, memoryReservation       opts.Bytes
	memorySwap                      opts.SwapBytes
}

func newUpdateCommand(a *app) *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			return runUpdate(cmd.Context(), a, o, args)
		},
		Annotations:           map[string]string{"aliases": "berth container update, berth update"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	f.Int64Var(&o.cpuRtRuntime, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.StringVar(&o.restart, "restart", "", "Restart policy to apply when a container exits")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	return cmd
}

func runUpdate(ctx context.Context, a *app, o updateOptions, names []string) error {
	var restart container.RestartPolicy
	if o.restart != "" {
		var err error
		if restart, err = parseRestartPolicy(o.restart); err != nil {
			return err
		}
	}
	var pids *int64
	if o.pidsLimit != 0 {
		pids = &o.pidsLimit
	}
	update := sdk.ContainerUpdateOptions{
		Resources: &container.Resources{
			BlkioWeight: o.blkioWeight, CpusetCpus: o.cpusetCpus, CpusetMems: o.cpusetMems,
			CPUShares: o.cpuShares, Memory: o.memory.Value(), MemoryReservation: o.memoryReservation.Value(),
			MemorySwap: o.memorySwap.Value(), CPUPeriod: o.cpuPeriod, CPUQuota: o.cpuQuota,
			CPURealtimePeriod: o.cpuRtPeriod, CPURealtimeRuntime: o.cpuRtRuntime,
			NanoCPUs: o.cpus.Value(), PidsLimit: pids,
		},
		RestartPolicy: &restart,
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	var (
		warnings []string
		errs     []error
	)
	for _, name := range names {
		r, err := c.ContainerUpdate(ctx, name, update)
		if err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintln(a.streams.Out, name)
		}
		warnings = append(warnings, r.Warnings...)
	}
	if len(warnings) > 0 {
		fmt.Fprintln(a.streams.Out, strings.Join(warnings, "\n"))
	}
	return errors.Join(errs...)
}
