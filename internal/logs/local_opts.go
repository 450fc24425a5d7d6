package logs

import (
	"slices"
	"strconv"

	"github.com/berth-project/berth/internal/errdefs"
	units "github.com/docker/go-units"
)

// localOpts are the local driver's options after docker's checks.
type localOpts struct {
	maxSize  int64 // bytes
	maxFiles int   // files kept, the current one included
	compress bool  // rotated files are gzip'ed
}

// docker's defaults (daemon/logger/local): 20 MiB (binary, unlike
// max-size's SI units), five files, compressed.
const (
	localDefaultMaxSize  = 20 * 1024 * 1024
	localDefaultMaxFiles = 5
)

// parseLocalOpts applies docker's rules for the local driver
// (daemon/logger/local: ValidateLogOpt, then newConfig), with its error
// texts: unknown keys first, then max-size, max-file and compress, then
// the combination. labels, env and tag are accepted as docker accepts
// them; the attrs they would add are not written yet.
func parseLocalOpts(opts map[string]string) (localOpts, error) {
	o := localOpts{maxSize: localDefaultMaxSize, maxFiles: localDefaultMaxFiles, compress: true}
	if err := checkModeOpts(opts); err != nil {
		return o, err
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable message when several are wrong
	for _, k := range keys {
		switch k {
		case "max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size":
		default:
			return o, errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown log opt '%s' for log driver %s", k, Local)
		}
	}
	if v, ok := opts["max-size"]; ok {
		n, err := units.FromHumanSize(v)
		if err != nil {
			return o, invalidf("invalid value for max-size: %s: %w", v, err)
		}
		o.maxSize = n
	}
	if v, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return o, invalidf("invalid value for max-file: %s: %w", v, err)
		}
		o.maxFiles = n
	}
	if v, ok := opts["compress"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, invalidf("invalid boolean value for compress: %w", err)
		}
		o.compress = b
	}
	switch {
	case o.maxSize < 0:
		return o, invalidf("max-size must not be negative")
	case o.maxFiles < 0:
		return o, invalidf("max-file must not be negative")
	case o.compress && o.maxFiles <= 1:
		// Only rotated files are compressed.
		return o, invalidf("compression cannot be enabled when max file count is 1")
	}
	return o, nil
}

func invalidf(format string, args ...any) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, format, args...)
}
