package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestDecodeFilters(t *testing.T) {
	for in, want := range map[string]string{
		``:                                   `{}`,
		`null`:                               `{}`,
		`{"label":{"b":true,"a":true}}`:      `{label:[a b]}`,
		`{"label":["b","a","b"]}`:            `{label:[a b]}`,
		`{"status":{"running":false}}`:       `{status:[running]}`,
		`{"a":{"x":true},"b":["y"]}`:         ``,
		`{"a":[1]}`:                          ``,
		`"label"`:                            ``,
		`{"label":{"a":true}} trailing text`: ``,
	} {
		f, err := decodeFilters(in)
		got := ""
		if err == nil {
			keys := make([]string, 0, len(f))
			for k := range f {
				keys = append(keys, fmt.Sprintf("%s:%v", k, f[k]))
			}
			slices.Sort(keys)
			got = "{" + strings.Join(keys, " ") + "}"
		} else if statusFor(err) != 400 {
			t.Errorf("%s: %v is not a 400", in, err)
		}
		if got != want {
			t.Errorf("%s: %q, want %q (%v)", in, got, want, err)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"1700000000":           "1700000000.000000000",
		"1700000000.5":         "1700000000.500000000",
		"1700000000.123456789": "1700000000.123456789",
		"0":                    "0.000000000",
	} {
		ts, err := parseTimestamp(in)
		if got := fmt.Sprintf("%d.%09d", ts.Unix(), ts.Nanosecond()); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1.x", "1.", "1.1234567890", "1.-5", "1.+5", "1e9", "1,5"} {
		if _, err := parseTimestamp(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"1.41", "1.50", -1}, {"1.50", "1.41", 1}, {"1.100", "1.50", 1}, {"1.41", "1.41.0", 0}, {"2", "1.99", 1}, {"1..2", "1.0.2", 0}} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
