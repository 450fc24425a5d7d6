package server

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// boolValue reads a query flag as dockerd does: absent, "", "0", "no",
// "false" and "none" are false (any case, spaces trimmed); anything else,
// "1" and "true" included, is true.
func (r *request) boolValue(key string) bool {
	switch strings.ToLower(strings.TrimSpace(r.query.Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// boolOr is boolValue with a default for an absent key.
func (r *request) boolOr(key string, def bool) bool {
	if _, ok := r.query[key]; !ok {
		return def
	}
	return r.boolValue(key)
}

// uint32Value reads a required unsigned number ("h", "w" of resize).
func (r *request) uint32Value(key, what string) (uint32, error) {
	v := r.query.Get(key)
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || v == "" || v[0] == '+' {
		return 0, invalidf("invalid resize %s %q: must be a number from 0 to %d", what, v, uint32(math.MaxUint32))
	}
	return uint32(n), nil
}

// timeoutValue reads the optional "t" of stop and restart: whole seconds,
// negative meaning wait forever; absent is nil.
func (r *request) timeoutValue() (*int, error) {
	v := r.query.Get("t")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, invalidf("invalid value for t (timeout) %q: must be a number of seconds", v)
	}
	return &n, nil
}

// timestampValue reads a Unix time in seconds with an optional fraction
// ("1700000000", "1700000000.123456789"), as the docker CLI sends since
// and until; absent is the zero time.
func (r *request) timestampValue(key string) (time.Time, error) {
	v := r.query.Get(key)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := parseTimestamp(v)
	if err != nil {
		return time.Time{}, invalidf("invalid value for %s %q: must be Unix seconds, optionally with a fraction", key, v)
	}
	return t, nil
}

func parseTimestamp(v string) (time.Time, error) {
	secStr, fracStr, hasFrac := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var nsec int64
	if hasFrac {
		if fracStr == "" || len(fracStr) > 9 || strings.ContainsAny(fracStr, "+-") {
			return time.Time{}, strconv.ErrSyntax
		}
		n, err := strconv.ParseUint(fracStr, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		nsec = int64(n) * int64(math.Pow10(9-len(fracStr)))
	}
	if sec < 0 && hasFrac {
		nsec = -nsec
	}
	return time.Unix(sec, nsec), nil
}

// tailValue reads "tail" of logs: "all" (or absent) is -1; a number is
// that many lines. Like dockerd, anything else means all lines.
func (r *request) tailValue() int {
	n, err := strconv.Atoi(r.query.Get("tail"))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// ttySize reads a resize's h and w (a terminal's rows and columns).
func (r *request) ttySize() (height, width uint, err error) {
	h, err := r.uint32Value("h", "height")
	if err != nil {
		return 0, 0, err
	}
	w, err := r.uint32Value("w", "width")
	if err != nil {
		return 0, 0, err
	}
	return uint(h), uint(w), nil
}
