package format

import (
	"bytes"
	"testing"
)

type row struct{ id, name string }

func (r row) ID() string                   { return r.id }
func (r row) Names() string                { return r.name }
func (r row) Label(k string) string        { return "v-" + k }
func (r row) MarshalJSON() ([]byte, error) { return MarshalMethods(r) }

func TestWrite(t *testing.T) {
	t.Parallel()
	header := Header{"ID": "CONTAINER ID", "Names": "NAMES"}
	rows := []any{row{"0123456789ab", "web"}, row{"ba9876543210", "a-much-longer-name"}}
	cases := []struct {
		format Format
		want   string
	}{
		{`table {{.ID}}\t{{.Names}}`, "CONTAINER ID   NAMES\n0123456789ab   web\nba9876543210   a-much-longer-name\n"},
		{`table {{.Names}}`, "NAMES\nweb\na-much-longer-name\n"},
		{`table {{.Names}}\t{{.Label "x"}}`, "NAMES                x\nweb                  v-x\na-much-longer-name   v-x\n"},
		{`{{.ID}}: {{upper .Names}}`, "0123456789ab: WEB\nba9876543210: A-MUCH-LONGER-NAME\n"},
		{`json`, `{"ID":"0123456789ab","Names":"web"}` + "\n" + `{"ID":"ba9876543210","Names":"a-much-longer-name"}` + "\n"},
		{`{{json .Names}}`, "\"web\"\n\"a-much-longer-name\"\n"},
		{`{{truncate .Names 3}}|{{pad .Names 1 1}}|{{title .Names}}|{{join (split .Names "-") "+"}}`, "web| web |Web|web\na-m| a-much-longer-name |A-Much-Longer-Name|a+much+longer+name\n"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c.format, header, rows); err != nil {
			t.Errorf("%s: %v", c.format, err)
			continue
		}
		if buf.String() != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.format, buf.String(), c.want)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, "{{.Nope", header, rows); err == nil {
		t.Error("a bad template was accepted")
	}
}

func TestTruncation(t *testing.T) {
	t.Parallel()
	if got := TruncateID("sha256:0123456789abcdef"); got != "0123456789ab" {
		t.Errorf("TruncateID = %q", got)
	}
	if got := Ellipsis("sleep 3600 && echo done", 20); got != "sleep 3600 && echo …" {
		t.Errorf("Ellipsis = %q", got)
	}
	if got := Ellipsis("short", 20); got != "short" {
		t.Errorf("Ellipsis = %q", got)
	}
	if Format("").Or("table {{.ID}}") != "table {{.ID}}" || Format("table").Or("x") != "x" || Format("{{.ID}}").Or("x") != "{{.ID}}" {
		t.Error("Or")
	}
}
