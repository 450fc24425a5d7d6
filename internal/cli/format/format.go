package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"unicode"
)

// Format is a --format value: "table", "table TEMPLATE", "json" or a
// TEMPLATE.
type Format string

// The special --format values.
const (
	Table = "table"
	JSON  = "json"
)

// Or returns def when f is empty or a bare "table": the command's own
// table layout.
func (f Format) Or(def string) Format {
	if f == "" || f == Table {
		return Format(def)
	}
	return f
}

// IsTable reports whether f prints a header row and aligned columns.
func (f Format) IsTable() bool { return strings.HasPrefix(string(f), Table) }

// IsJSON reports whether f is "json": each row as one JSON object.
func (f Format) IsJSON() bool { return string(f) == JSON }

// Template is the Go template f stands for: "json" becomes {{json .}}, the
// table prefix goes, and the escapes \t and \n typed on a command line
// become a tab and a newline.
func (f Format) Template() string {
	s := string(f)
	if s == JSON {
		return "{{json .}}"
	}
	if after, ok := strings.CutPrefix(s, Table); ok {
		s = after
	}
	s = strings.Trim(s, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(s)
}

// Header maps a row's field names to their column titles.
type Header map[string]string

// Label is the title of a {{.Label "name"}} column: the name itself.
func (Header) Label(name string) string { return name }

// Write renders rows with f into w: for a table the header first and all
// columns aligned as docker aligns them (min width 10, padding 3), else one
// line per row.
func Write(w io.Writer, f Format, header Header, rows []any) error {
	tmpl, err := Parse(f.Template())
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var body bytes.Buffer
	for _, row := range rows {
		if err := tmpl.Execute(&body, row); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		body.WriteByte('\n')
	}
	if !f.IsTable() {
		_, err := body.WriteTo(w)
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	headTmpl, err := Parse(f.Template())
	if err != nil {
		return err
	}
	if err := headTmpl.Funcs(headerFuncs).Execute(tw, header); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	tw.Write([]byte{'\n'})
	body.WriteTo(tw)
	return tw.Flush()
}

// Execute renders one value with a template (inspect -f, version and info
// --format): a newline follows, as docker prints it.
func Execute(w io.Writer, text string, v any) error {
	tmpl, err := Parse(Format(text).Template())
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	buf.WriteByte('\n')
	_, err = buf.WriteTo(w)
	return err
}

// MarshalMethods is the JSON docker prints for a row with {{json .}}: an
// object with one member per exported method taking no arguments and
// returning one value. Row types use it in their MarshalJSON.
func MarshalMethods(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	m := map[string]any{}
	for i := range rv.NumMethod() {
		meth := rv.Type().Method(i)
		fn := rv.Method(i)
		if !unicode.IsUpper(rune(meth.Name[0])) || meth.Name == "MarshalJSON" {
			continue
		}
		if fn.Type().NumIn() != 0 || fn.Type().NumOut() != 1 {
			continue
		}
		m[meth.Name] = fn.Call(nil)[0].Interface()
	}
	return json.Marshal(m)
}
