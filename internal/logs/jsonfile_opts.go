package logs

import (
	"strconv"

	"github.com/berth-project/berth/internal/errdefs"
	units "github.com/docker/go-units"
)

// jsonFileOpts are json-file's options after docker's checks.
type jsonFileOpts struct {
	maxSize  int64 // bytes; -1 means no limit
	maxFiles int   // files kept, the current one included
}

// parseJSONFileOpts applies docker's rules (daemon/logger/jsonfilelog):
// max-size in SI units (10m is 10,000,000 bytes) and positive, max-file at
// least 1, default one file without a size limit. compress is accepted
// only as false: rotated files stay plain text. labels, labels-regex, env
// and env-regex choose the entries' attrs (ExtraAttrs); tag is accepted
// as docker accepts it.
func parseJSONFileOpts(opts map[string]string) (jsonFileOpts, error) {
	o := jsonFileOpts{maxSize: -1, maxFiles: 1}
	if err := checkModeOpts(opts); err != nil {
		return o, err
	}
	for k, v := range opts {
		switch k {
		case "max-size":
			n, err := units.FromHumanSize(v)
			if err != nil {
				return o, errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
			}
			if n <= 0 {
				return o, errdefs.Errorf(errdefs.ErrInvalidParameter, "max-size must be a positive number")
			}
			o.maxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil {
				return o, errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
			}
			if n < 1 {
				return o, errdefs.Errorf(errdefs.ErrInvalidParameter, "max-file cannot be less than 1")
			}
			o.maxFiles = n
		case "compress":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
			}
			if b {
				return o, errdefs.Errorf(errdefs.ErrNotImplemented, "json-file: compress=true is not supported")
			}
		case "labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size":
		default:
			return o, errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown log opt '%s' for json-file log driver", k)
		}
	}
	return o, nil
}
