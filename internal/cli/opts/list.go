package opts

import (
	"fmt"
	"strings"
)

// Validator checks one value of a repeatable flag and may rewrite it (an
// environment variable given without a value takes the CLI's own).
type Validator func(string) (string, error)

// List is a repeatable string flag (-e A -e B).
type List struct {
	values   []string
	validate Validator
}

// NewList makes a List; validate may be nil.
func NewList(validate Validator) *List { return &List{validate: validate} }

// Set implements pflag.Value.
func (l *List) Set(v string) error {
	if l.validate != nil {
		var err error
		if v, err = l.validate(v); err != nil {
			return err
		}
	}
	l.values = append(l.values, v)
	return nil
}

// String implements pflag.Value; empty when nothing was given, so help
// shows no default.
func (l *List) String() string {
	if len(l.values) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", l.values)
}

// Type implements pflag.Value.
func (*List) Type() string { return "list" }

// Values are the values given, in order; nil when none.
func (l *List) Values() []string { return l.values }

// OrEmpty is Values, but never nil (docker sends [] for Dns and friends).
func (l *List) OrEmpty() []string {
	if l.values == nil {
		return []string{}
	}
	return l.values
}

// Len is how many values were given.
func (l *List) Len() int { return len(l.values) }

// Map is a repeatable key=value flag (--sysctl, --log-opt style).
type Map struct {
	values   map[string]string
	validate Validator
}

// NewMap makes a Map; validate may be nil.
func NewMap(validate Validator) *Map { return &Map{values: map[string]string{}, validate: validate} }

// Set implements pflag.Value.
func (m *Map) Set(v string) error {
	if m.validate != nil {
		var err error
		if v, err = m.validate(v); err != nil {
			return err
		}
	}
	k, val, _ := strings.Cut(v, "=")
	m.values[k] = val
	return nil
}

// String implements pflag.Value.
func (m *Map) String() string {
	if len(m.values) == 0 {
		return ""
	}
	return fmt.Sprintf("map%v", m.values)
}

// Type implements pflag.Value.
func (*Map) Type() string { return "map" }

// Values is the map given; nil when empty, so it stays out of requests.
func (m *Map) Values() map[string]string {
	if len(m.values) == 0 {
		return nil
	}
	return m.values
}

// KVMap turns "k=v" strings into a map; "k" alone maps to "".
func KVMap(values []string) map[string]string {
	m := make(map[string]string, len(values))
	for _, v := range values {
		k, val, _ := strings.Cut(v, "=")
		m[k] = val
	}
	return m
}
