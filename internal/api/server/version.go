package server

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// compareVersions orders dotted API versions ("1.41" < "1.50" < "1.100")
// as dockerd does: parts compare as numbers, a missing or non-numeric part
// counts as 0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// before reports whether version v is older than ref.
func before(v, ref string) bool { return compareVersions(v, ref) < 0 }

// isVersionSegment reports whether a path's first segment is an API
// version prefix ("v1.41"), with dockerd's rule: "v" then digits and dots.
func isVersionSegment(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	for _, c := range s[1:] {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// checkVersion refuses versions outside [min, max] with dockerd's words.
func checkVersion(v, minVersion, maxVersion string) error {
	if before(v, minVersion) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter,
			"client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, minVersion)
	}
	if compareVersions(v, maxVersion) > 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter,
			"client version %s is too new. Maximum supported API version is %s", v, maxVersion)
	}
	return nil
}

// validVersionRange checks the server's own configuration.
func validVersionRange(minVersion, maxVersion string) error {
	for _, v := range []string{minVersion, maxVersion} {
		if !isVersionSegment("v" + v) {
			return fmt.Errorf("invalid API version %q", v)
		}
	}
	if compareVersions(minVersion, maxVersion) > 0 {
		return fmt.Errorf("minimum API version %s is above the maximum %s", minVersion, maxVersion)
	}
	return nil
}
