package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func newUpdateCommand(g *globals) *command {
	var resourcesPath string
	var memory, memorySwap, memoryReservation, cpuQuota, pidsLimit int64
	var cpuPeriod, cpuShares uint64
	var cpusetCpus, cpusetMems string
	var blkioWeight uint16
	// run reads cmd.flags: which flags the command line set.
	var cmd *command
	cmd = &command{
		usage: "update [flags] <container-id>",
		short: "change a container's resource limits",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
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
			fl := &cmd.flags
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
	fl := &cmd.flags
	fl.String(&resourcesPath, "resources", 'r', "", "path to a linux.resources JSON document (- for stdin)")
	intVar(fl, &memory, "memory", 0, "memory limit in bytes")
	intVar(fl, &memorySwap, "memory-swap", 0, "memory plus swap limit in bytes (-1: unlimited)")
	intVar(fl, &memoryReservation, "memory-reservation", 0, "memory soft limit in bytes")
	intVar(fl, &cpuQuota, "cpu-quota", 0, "CPU CFS quota in microseconds")
	intVar(fl, &cpuPeriod, "cpu-period", 0, "CPU CFS period in microseconds")
	intVar(fl, &cpuShares, "cpu-share", 0, "CPU shares (relative weight)")
	fl.String(&cpusetCpus, "cpuset-cpus", 0, "", "CPUs to run on (0-3, 0,1)")
	fl.String(&cpusetMems, "cpuset-mems", 0, "", "memory nodes to use")
	intVar(fl, &pidsLimit, "pids-limit", 0, "maximum number of processes")
	intVar(fl, &blkioWeight, "blkio-weight", 0, "block IO weight (10-1000)")
	return cmd
}
