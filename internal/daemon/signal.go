package daemon

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// parseSignal reads a signal as docker does: a number, or a name with or
// without "SIG" in any case, RTMIN+n and RTMAX-n included.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.Errorf(errdefs.ErrInvalidParameter, "Invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	name = strings.TrimPrefix(name, "SIG")
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	const rtmin, rtmax = 34, 64
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"RTMIN+", rtmin, 1}, {"RTMAX-", rtmax, -1}} {
		if rest, ok := strings.CutPrefix(name, rt.prefix); ok {
			if n, err := strconv.Atoi(rest); err == nil && n >= 0 && n <= rtmax-rtmin {
				return syscall.Signal(rt.base + rt.sign*n), nil
			}
		}
	}
	switch name {
	case "RTMIN":
		return rtmin, nil
	case "RTMAX":
		return rtmax, nil
	}
	return 0, errdefs.Errorf(errdefs.ErrInvalidParameter, "Invalid signal: %s", s)
}

// signalName is the signal's name as docker's events show it.
func signalName(sig syscall.Signal) string {
	return strconv.Itoa(int(sig))
}
