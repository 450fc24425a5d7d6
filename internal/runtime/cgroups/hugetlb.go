package cgroups

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/errdefs"
)

// hugePageSizes lists the sizes under dir (hugepages-2048kB, …) in the
// runtime-spec's notation, which is also the kernel's hugetlb file naming.
func hugePageSizes(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var sizes []string
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		s, ok = strings.CutSuffix(s, "kB")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			continue
		}
		sizes = append(sizes, pageSizeName(kb))
	}
	return sizes
}

// pageSizeName names a size in KiB the way the kernel names hugetlb files:
// the largest unit that divides it, KB, MB or GB.
func pageSizeName(kb uint64) string {
	units := []string{"KB", "MB", "GB", "TB"}
	u := 0
	for kb >= 1024 && kb%1024 == 0 && u < len(units)-1 {
		kb /= 1024
		u++
	}
	return strconv.FormatUint(kb, 10) + units[u]
}

// checkPageSizes refuses a size the host does not have before anything is
// written.
func checkPageSizes(have []string, limits []specs.LinuxHugepageLimit) error {
	for _, l := range limits {
		if !slices.Contains(have, l.Pagesize) {
			return fmt.Errorf("hugepage size %s: this host has %v: %w", l.Pagesize, have, errdefs.ErrNotImplemented)
		}
	}
	return nil
}
