// Package initenv is the one thing the engine and berth-init agree on
// through the environment: the engine starts the init with GOMAXPROCS=1,
// since the Go runtime reads it before any of the init's code runs and
// starts fewer threads with one P (every thread counts against
// --pids-limit), and the init hands the command the environment the user
// gave, GOMAXPROCS included or absent as it was.
package initenv

import "strings"

const (
	maxProcs = "GOMAXPROCS="
	// saved holds the user's GOMAXPROCS: "" when there was none, else "="
	// and the value (which may itself be empty).
	saved = "BERTH_INIT_GOMAXPROCS="
)

// ForInit returns env (the command's environment, without duplicates) as
// the init is to get it.
func ForInit(env []string) []string {
	out := make([]string, 0, len(env)+2)
	user, found := "", false
	for _, e := range env {
		if strings.HasPrefix(e, saved) {
			continue // a marker the user set is not ours to keep
		}
		if v, ok := strings.CutPrefix(e, maxProcs); ok {
			user, found = "="+v, true
			e = maxProcs + "1"
		}
		out = append(out, e)
	}
	if !found {
		out = append(out, maxProcs+"1")
	}
	return append(out, saved+user)
}

// ForCommand undoes ForInit. An environment ForInit did not make (the
// init started some other way) is returned as it is.
func ForCommand(env []string) []string {
	user, ok := "", false
	for _, e := range env {
		if v, found := strings.CutPrefix(e, saved); found {
			user, ok = v, true
		}
	}
	if !ok {
		return env
	}
	out := make([]string, 0, len(env))
	for _, e := range env {
		switch {
		case strings.HasPrefix(e, saved):
		case strings.HasPrefix(e, maxProcs):
			if v, set := strings.CutPrefix(user, "="); set {
				out = append(out, maxProcs+v)
			}
		default:
			out = append(out, e)
		}
	}
	return out
}
