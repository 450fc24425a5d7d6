package image

import (
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/berth-project/berth/internal/errdefs"
)

// matchReference is docker's reference filter: a shell pattern matched
// against the familiar form ("busybox:latest", "busybox", "busy*").
func matchReference(pattern, familiar string) bool {
	named, err := reference.ParseNormalizedNamed(familiar)
	if err != nil {
		return false
	}
	ok, err := reference.FamiliarMatch(pattern, named)
	return err == nil && ok
}

// ParseFilterTime reads the times docker's filters accept (until, since,
// before): a Go duration ("10m", meaning that long before now), RFC 3339
// with or without zone, a date, or Unix seconds with an optional fraction.
// Anything else is InvalidParameter in dockerd's words.
func ParseFilterTime(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	invalid := errdefs.Errorf(errdefs.ErrInvalidParameter, "failed to parse value as time or duration: %q", v)
	secs, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, invalid
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, invalid
		}
	}
	return time.Unix(s, ns), nil
}
