package server

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The real-time signals, as docker names them: RTMIN, RTMIN+1..RTMIN+15,
// RTMAX-14..RTMAX-1, RTMAX.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// ParseSignal reads a signal as docker accepts it: a number (1 to 64) or a
// name, any case, with or without "SIG" ("KILL", "sigterm", "SIGRTMIN+3").
// The server checks signals with it before calling the backend, which may
// use it too.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 {
			return 0, invalidf("Invalid signal: %s", s)
		}
		if n > sigRTMax {
			// dockerd's words: the number is a signal, not one Linux has.
			return 0, invalidf("the linux daemon does not support signal %d", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := rtSignal(name); ok {
		return sig, nil
	}
	if alias, ok := signalAliases[name]; ok {
		name = alias
	}
	if name != "" && !strings.ContainsAny(name, "+-") {
		if sig := unix.SignalNum("SIG" + name); sig != 0 {
			return sig, nil
		}
	}
	return 0, invalidf("Invalid signal: %s", s)
}

// signalAliases are the other names docker accepts for a signal.
var signalAliases = map[string]string{"CLD": "CHLD", "IOT": "ABRT", "POLL": "IO"}

func rtSignal(name string) (syscall.Signal, bool) {
	base, off := name, ""
	if i := strings.IndexAny(name, "+-"); i >= 0 {
		base, off = name[:i], name[i:]
	}
	var sig int
	switch base {
	case "RTMIN":
		sig = sigRTMin
	case "RTMAX":
		sig = sigRTMax
	default:
		return 0, false
	}
	if off != "" {
		n, err := strconv.Atoi(off[1:])
		if err != nil || n < 1 || n > 15 || (base == "RTMIN") != (off[0] == '+') {
			return 0, false
		}
		if off[0] == '+' {
			sig += n
		} else {
			sig -= n
		}
	}
	return syscall.Signal(sig), true
}
