package opts

import (
	"fmt"
	"strings"

	"github.com/moby/moby/client"
)

// Filter is the repeatable --filter flag: "key=value" terms sent to the
// daemon as the filters query parameter.
type Filter struct {
	values client.Filters
}

// NewFilter makes an empty Filter.
func NewFilter() *Filter { return &Filter{values: client.Filters{}} }

// Set implements pflag.Value.
func (f *Filter) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	k = strings.ToLower(strings.TrimSpace(k))
	if !ok || k == "" {
		return fmt.Errorf("bad format of filter (expected name=value)")
	}
	f.values.Add(k, strings.TrimSpace(val))
	return nil
}

// String implements pflag.Value.
func (f *Filter) String() string {
	var terms []string
	for k, vs := range f.values {
		for v := range vs {
			terms = append(terms, k+"="+v)
		}
	}
	if len(terms) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", terms)
}

// Type implements pflag.Value.
func (*Filter) Type() string { return "filter" }

// Filters is what was given.
func (f *Filter) Filters() client.Filters { return f.values }
