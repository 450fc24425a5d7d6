package cgroups

import (
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func boolp(v bool) *bool   { return &v }
func devn(v int64) *int64  { return &v }

func TestSharesToWeight(t *testing.T) {
	for _, tc := range []struct{ shares, weight uint64 }{
		{0, 0},
		{1, 1}, // clamped to 2 first
		{2, 1},
		{3, 2},
		{512, 59},
		{1024, 100}, // the defaults meet
		{2048, 174},
		{262144, 10000},
		{1 << 20, 10000},
	} {
		if got := sharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
	// Monotonic over the whole range.
	prev := uint64(0)
	for s := uint64(2); s <= maxShares; s += 97 {
		w := sharesToWeight(s)
		if w < prev || w < minWeight || w > maxWeight {
			t.Fatalf("sharesToWeight(%d) = %d after %d", s, w, prev)
		}
		prev = w
	}
}

func TestBlkioToIOWeight(t *testing.T) {
	for _, tc := range []struct {
		blkio uint16
		io    uint64
	}{{0, 0}, {10, 1}, {500, 4950}, {1000, 10000}, {5, 1}} {
		if got := blkioToIOWeight(tc.blkio); got != tc.io {
			t.Errorf("blkioToIOWeight(%d) = %d, want %d", tc.blkio, got, tc.io)
		}
	}
}

func TestSwapToV2(t *testing.T) {
	for _, tc := range []struct {
		limit, swap *int64
		want        string
		bad         bool
	}{
		{nil, nil, "", false},
		{i64(-1), nil, "max", false}, // unlimited memory frees swap too
		{i64(-1), i64(0), "max", false},
		{i64(100), nil, "", false},
		{i64(100), i64(0), "", false},
		{i64(100), i64(-1), "max", false},
		{i64(100), i64(300), "200", false},
		{i64(100), i64(100), "0", false}, // memory+swap == memory: no swap
		{i64(100), i64(50), "", true},
		{nil, i64(300), "", true},
		{i64(-1), i64(300), "", true},
	} {
		got, err := swapToV2(tc.limit, tc.swap)
		if tc.bad {
			if !errdefs.IsInvalidParameter(err) {
				t.Errorf("swapToV2(%v, %v): err %v, want InvalidParameter", fmtp(tc.limit), fmtp(tc.swap), err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("swapToV2(%v, %v) = %q, %v; want %q", fmtp(tc.limit), fmtp(tc.swap), got, err, tc.want)
		}
	}
}

func fmtp(p *int64) any {
	if p == nil {
		return "nil"
	}
	return *p
}
