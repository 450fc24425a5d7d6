package cgroups

import (
	"math"
	"strconv"
)

// The v1 → v2 conversions. The runtime-spec speaks v1 units; cgroup v2
// uses other scales, and every runtime must convert the same way or the
// same config would behave differently under runc, crun and Berth.

// Share and weight bounds of the kernel.
const (
	minShares = 2
	maxShares = 262144
	minWeight = 1
	maxWeight = 10000
)

// sharesToWeight maps cpu.shares [2, 262144] to cpu.weight [1, 10000].
//
// It uses the curve runc (1.3.2) and crun (1.23) adopted in 2025: a
// quadratic in log2(shares),
//
//	weight = ceil(10^((log2(s)² + 125·log2(s)) / 612 − 7/34))
//
// which maps the three points that matter exactly — 2 → 1, 1024 (the
// default) → 100 (the default), 262144 → 10000 — where the older linear
// formula, 1 + (s−2)·9999/262142, turned the default 1024 into 39 and so
// starved containers against host services at weight 100.
// 0 means unset and stays 0.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	s := float64(min(max(shares, minShares), maxShares))
	l := math.Log2(s)
	exp := (l*l+125*l)/612.0 - 7.0/34.0
	w := math.Pow(10, exp)
	// Guard the exact points against a rounding error pushing ceil one up.
	if r := math.Round(w); math.Abs(w-r) < 1e-9 {
		w = r
	}
	return min(max(uint64(math.Ceil(w)), minWeight), maxWeight)
}

// blkioToIOWeight maps blkio.weight [10, 1000] to io.weight [1, 10000]
// linearly, as runc does; BFQ's io.bfq.weight keeps the v1 scale and
// takes the value as is.
func blkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	v := max(uint64(w), 10)
	return 1 + (v-10)*9999/990
}

// swapToV2 turns the spec's swap (memory+swap, as in v1's memsw) into the
// value of memory.swap.max (swap alone). It returns "" when nothing must be
// written. limit and swap are the spec's values (nil: not given).
//
//	swap nil,  limit -1   → "max"  (unlimited memory takes swap with it, as v1 does)
//	swap nil or 0         → ""     (leave swap alone)
//	swap -1               → "max"
//	swap ≥ limit > 0      → swap − limit ("0" when they are equal: no swap)
func swapToV2(limit, swap *int64) (string, error) {
	if swap == nil || *swap == 0 {
		if limit != nil && *limit == -1 {
			return "max", nil
		}
		return "", nil
	}
	if *swap == -1 {
		return "max", nil
	}
	if limit == nil || *limit <= 0 {
		return "", invalid("memory swap %d: a swap limit needs a memory limit (swap is memory+swap)", *swap)
	}
	if *swap < *limit {
		return "", invalid("memory swap %d (memory+swap) is below the memory limit %d", *swap, *limit)
	}
	return strconv.FormatInt(*swap-*limit, 10), nil
}

// v2Limit formats a spec limit for a v2 file: -1 is "max".
func v2Limit(v int64) string {
	if v == -1 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}
