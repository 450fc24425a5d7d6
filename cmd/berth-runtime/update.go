package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

func newUpdateCommand(g *globals) *cobra.Command {
	var resourcesPath string
	var memory, memorySwap, memoryReservation, cpuQuota, pidsLimit int64
	var cpuPeriod, cpuShares uint64
	var cpusetCpus, cpusetMems string
	var blkioWeight uint16
	cmd := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "change a container's resource limits",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			r := &specs.LinuxResources{}
			if resourcesPath != "" {
				var in io.Reader = os.Stdin
				if resourcesPath != "-" {
					f, err := os.Open(resourcesPath)
					if err != nil {
						return err
					}
					defer f.Close()
					in = f
				}
				if err := json.NewDecoder(in).Decode(r); err != nil {
					return fmt.Errorf("--resources: %w", err)
				}
			}
			fl := cmd.Flags()
			mem := func() *specs.LinuxMemory {
				if r.Memory == nil {
					r.Memory = &specs.LinuxMemory{}
				}
				return r.Memory
			}
			cpu := func() *specs.LinuxCPU {
				if r.CPU == nil {
					r.CPU = &specs.LinuxCPU{}
				}
				return r.CPU
			}
			if fl.Changed("memory") {
				mem().Limit = &memory
			}
			if fl.Changed("memory-swap") {
				mem().Swap = &memorySwap
			}
			if fl.Changed("memory-reservation") {
				mem().Reservation = &memoryReservation
			}
			if fl.Changed("cpu-quota") {
				cpu().Quota = &cpuQuota
			}
			if fl.Changed("cpu-period") {
				cpu().Period = &cpuPeriod
			}
			if fl.Changed("cpu-share") {
				cpu().Shares = &cpuShares
			}
			if fl.Changed("cpuset-cpus") {
				cpu().Cpus = cpusetCpus
			}
			if fl.Changed("cpuset-mems") {
				cpu().Mems = cpusetMems
			}
			if fl.Changed("pids-limit") {
				r.Pids = &specs.LinuxPids{Limit: &pidsLimit}
			}
			if fl.Changed("blkio-weight") {
				r.BlockIO = &specs.LinuxBlockIO{Weight: &blkioWeight}
			}
			return c.Update(r)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&resourcesPath, "resources", "r", "", "path to a linux.resources JSON document (- for stdin)")
	fl.Int64Var(&memory, "memory", 0, "memory limit in bytes")
	fl.Int64Var(&memorySwap, "memory-swap", 0, "memory plus swap limit in bytes (-1: unlimited)")
	fl.Int64Var(&memoryReservation, "memory-reservation", 0, "memory soft limit in bytes")
	fl.Int64Var(&cpuQuota, "cpu-quota", 0, "CPU CFS quota in microseconds")
	fl.Uint64Var(&cpuPeriod, "cpu-period", 0, "CPU CFS period in microseconds")
	fl.Uint64Var(&cpuShares, "cpu-share", 0, "CPU shares (relative weight)")
	fl.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs to run on (0-3, 0,1)")
	fl.StringVar(&cpusetMems, "cpuset-mems", "", "memory nodes to use")
	fl.Int64Var(&pidsLimit, "pids-limit", 0, "maximum number of processes")
	fl.Uint16Var(&blkioWeight, "blkio-weight", 0, "block IO weight (10-1000)")
	return cmd
}
