package spec

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/blkiodev"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// minMemory is docker's smallest memory limit (6 MiB).
const minMemory = 6 << 20

// cfsPeriod is the CFS period --cpus uses (100ms in µs).
const cfsPeriod = 100000

func invalid(format string, args ...any) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, format, args...)
}

// checkMemory applies dockerd's memory rules and messages.
func (g *generator) checkMemory() error {
	r := &g.host.Resources
	if r.Memory != 0 && r.Memory < minMemory {
		return invalid("Minimum memory limit allowed is 6MB")
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory == 0 && r.MemorySwap > 0 {
		return invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if r.MemorySwap < -1 {
		return invalid("invalid memory swap limit %d: use -1 for unlimited", r.MemorySwap)
	}
	if r.MemorySwappiness != nil {
		if s := *r.MemorySwappiness; s < 0 || s > 100 {
			return invalid("Invalid value: %v, valid memory swappiness range is 0-100", s)
		}
	}
	if r.MemoryReservation > 0 && r.MemoryReservation < minMemory {
		return invalid("Minimum memory reservation allowed is 6MB")
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if r.Memory < 0 || r.MemoryReservation < 0 {
		return invalid("invalid memory limit: must not be negative")
	}
	if g.host.ShmSize < 0 {
		return invalid("SHM size can not be less than 0")
	}
	if g.host.OomScoreAdj < -1000 || g.host.OomScoreAdj > 1000 {
		return invalid("Invalid value %d, range for oom score adj is [-1000, 1000]", g.host.OomScoreAdj)
	}
	return nil
}

// checkCPU applies dockerd's CPU rules and messages.
func (g *generator) checkCPU() error {
	r := &g.host.Resources
	if r.CPUShares < 0 {
		return invalid("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
	}
	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if nc := g.sys.numCPU; r.NanoCPUs != 0 && (r.NanoCPUs < 0 || r.NanoCPUs > int64(nc)*1e9) {
		return invalid("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", nc)
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		return invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if r.CPUQuota > 0 && r.CPUQuota < 1000 {
		return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0 {
		return invalid("kernel does not support CPU real-time scheduler")
	}
	if r.CPUPercent > 0 || r.CPUCount > 0 {
		return invalid("invalid option: CPU count and CPU percent are Windows options")
	}
	if err := checkCPUSetList("cpus", r.CpusetCpus, g.sys.cpus); err != nil {
		return err
	}
	return checkCPUSetList("mems", r.CpusetMems, g.sys.mems)
}

// checkCPUSetList checks a cpuset list ("0-2,4") parses and names only
// CPUs (or memory nodes) the host has.
func checkCPUSetList(what, requested, available string) error {
	if requested == "" {
		return nil
	}
	want, err := parseCPUSet(requested)
	if err != nil {
		return invalid("Invalid value %s for cpuset %s: %v", requested, what, err)
	}
	have, err := parseCPUSet(available)
	if err != nil {
		return nil // the host's list is odd; let the kernel judge
	}
	haveSet := map[int]bool{}
	for _, c := range have {
		haveSet[c] = true
	}
	for _, c := range want {
		if !haveSet[c] {
			noun := "CPUs"
			if what == "mems" {
				noun = "memory nodes"
			}
			return invalid("Requested %s are not available - requested %s, available: %s", noun, requested, available)
		}
	}
	return nil
}

// parseCPUSet parses the kernel's list format: "0-3,5,7-8".
func parseCPUSet(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("invalid format: %s", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("invalid format: %s", s)
			}
		}
		if b-a > 1<<16 || b > 1<<20 {
			return nil, fmt.Errorf("invalid format: %s", s)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// checkBlkio checks the weights' ranges; the devices are looked up when the
// spec is built.
// checkBlkioWeights checks the block I/O weights are in docker's range
// (the devices they name are checked by checkBlkio, at start).
func (g *generator) checkBlkioWeights() error {
	r := &g.host.Resources
	if r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		return invalid("Range of blkio weight is from 10 to 1000")
	}
	for _, d := range r.BlkioWeightDevice {
		if d != nil && (d.Weight < 10 || d.Weight > 1000) {
			return invalid("invalid weight for device: %s: weight must be between 10 and 1000", d.Path)
		}
	}
	return nil
}

func (g *generator) checkBlkio() error {
	if err := g.checkBlkioWeights(); err != nil {
		return err
	}
	r := &g.host.Resources
	for _, d := range r.BlkioWeightDevice {
		if d == nil {
			continue
		}
		if _, _, err := blockDeviceNumbers(d.Path); err != nil {
			return err
		}
	}
	for _, list := range [][]*blkiodev.ThrottleDevice{
		r.BlkioDeviceReadBps, r.BlkioDeviceWriteBps, r.BlkioDeviceReadIOps, r.BlkioDeviceWriteIOps,
	} {
		if _, err := throttleDevices(list); err != nil {
			return err
		}
	}
	if r.IOMaximumBandwidth != 0 || r.IOMaximumIOps != 0 {
		return invalid("Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps")
	}
	return nil
}

// withResources sets the cgroup limits as dockerd's WithResources does.
func (g *generator) withResources(_ context.Context, s *specs.Spec) error {
	r := g.host.Resources
	res := s.Linux.Resources

	var mem specs.LinuxMemory
	if r.Memory > 0 {
		v := r.Memory
		mem.Limit = &v
	}
	if r.MemoryReservation > 0 {
		v := r.MemoryReservation
		mem.Reservation = &v
	}
	if r.MemorySwap > 0 {
		v := r.MemorySwap
		mem.Swap = &v
	}
	if r.MemorySwappiness != nil {
		v := uint64(*r.MemorySwappiness)
		mem.Swappiness = &v
	}
	if r.OomKillDisable != nil {
		v := *r.OomKillDisable
		mem.DisableOOMKiller = &v
	}
	if mem != (specs.LinuxMemory{}) {
		res.Memory = &mem
	}

	var cpu specs.LinuxCPU
	if r.CPUShares != 0 {
		v := uint64(r.CPUShares)
		cpu.Shares = &v
	}
	cpu.Cpus, cpu.Mems = r.CpusetCpus, r.CpusetMems
	if r.NanoCPUs > 0 {
		period := uint64(cfsPeriod)
		quota := r.NanoCPUs * cfsPeriod / 1e9
		cpu.Period, cpu.Quota = &period, &quota
	}
	if r.CPUPeriod != 0 {
		v := uint64(r.CPUPeriod)
		cpu.Period = &v
	}
	if r.CPUQuota != 0 {
		v := r.CPUQuota
		cpu.Quota = &v
	}
	if cpu != (specs.LinuxCPU{}) {
		res.CPU = &cpu
	}

	if r.PidsLimit != nil {
		limit := *r.PidsLimit
		if limit <= 0 {
			// 0 and -1 both mean unlimited in the API; runtimes want -1.
			limit = -1
		}
		res.Pids = &specs.LinuxPids{Limit: &limit}
	}

	bio := &specs.LinuxBlockIO{}
	if r.BlkioWeight != 0 {
		w := r.BlkioWeight
		bio.Weight = &w
	}
	for _, d := range r.BlkioWeightDevice {
		if d == nil {
			continue
		}
		major, minor, err := blockDeviceNumbers(d.Path)
		if err != nil {
			return err
		}
		w := d.Weight
		wd := specs.LinuxWeightDevice{Weight: &w}
		wd.Major, wd.Minor = major, minor
		bio.WeightDevice = append(bio.WeightDevice, wd)
	}
	var err error
	if bio.ThrottleReadBpsDevice, err = throttleDevices(r.BlkioDeviceReadBps); err != nil {
		return err
	}
	if bio.ThrottleWriteBpsDevice, err = throttleDevices(r.BlkioDeviceWriteBps); err != nil {
		return err
	}
	if bio.ThrottleReadIOPSDevice, err = throttleDevices(r.BlkioDeviceReadIOps); err != nil {
		return err
	}
	if bio.ThrottleWriteIOPSDevice, err = throttleDevices(r.BlkioDeviceWriteIOps); err != nil {
		return err
	}
	res.BlockIO = bio
	return nil
}
