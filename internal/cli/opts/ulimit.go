package opts

import (
	"fmt"
	"sort"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// Ulimits is the repeatable --ulimit flag (name=soft[:hard]); a later value
// for the same name replaces an earlier one.
type Ulimits struct {
	values map[string]*container.Ulimit
}

// NewUlimits makes an empty Ulimits.
func NewUlimits() *Ulimits { return &Ulimits{values: map[string]*container.Ulimit{}} }

// Set implements pflag.Value.
func (u *Ulimits) Set(v string) error {
	l, err := units.ParseUlimit(v)
	if err != nil {
		return err
	}
	u.values[l.Name] = l
	return nil
}

// String implements pflag.Value.
func (u *Ulimits) String() string {
	var out []string
	for _, l := range u.values {
		out = append(out, l.String())
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return fmt.Sprintf("%v", out)
}

// Type implements pflag.Value.
func (*Ulimits) Type() string { return "ulimit" }

// List is the ulimits sorted by name; empty (not nil) when none, as docker
// sends them.
func (u *Ulimits) List() []*container.Ulimit {
	out := make([]*container.Ulimit, 0, len(u.values))
	for _, l := range u.values {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
