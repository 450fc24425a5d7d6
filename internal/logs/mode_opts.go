package logs

import (
	units "github.com/docker/go-units"

	"github.com/berth-project/berth/internal/errdefs"
)

// checkModeOpts checks the options docker takes for every driver
// (daemon/logger: ValidateLogOpts) before the driver's own: mode
// (blocking or non-blocking) and max-buffer-size, only with non-blocking.
// They are accepted; the shim always delivers in blocking mode (its pipes
// buffer a container's output, and nothing is dropped).
func checkModeOpts(opts map[string]string) error {
	switch mode := opts["mode"]; mode {
	case "", "blocking", "non-blocking":
	default:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "logger: logging mode not supported: %s", mode)
	}
	if s, ok := opts["max-buffer-size"]; ok {
		if opts["mode"] != "non-blocking" {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "logger: max-buffer-size option is only supported with 'mode=non-blocking'")
		}
		if _, err := units.RAMInBytes(s); err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "error parsing option max-buffer-size: %w", err)
		}
	}
	return nil
}
