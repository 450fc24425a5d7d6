package cli_test

import (
	"reflect"
	"testing"
)

// TestSplitWords checks the tables' command-line splitter, which every
// scenario relies on.
func TestSplitWords(t *testing.T) {
	for line, want := range map[string][]string{
		"run --rm busybox echo hi":             {"run", "--rm", "busybox", "echo", "hi"},
		"  a   b  ":                            {"a", "b"},
		`ps --format '{{.Names}} {{.Status}}'`: {"ps", "--format", "{{.Names}} {{.Status}}"},
		`sh -c "echo \"x\" \\ y"`:              {"sh", "-c", `echo "x" \ y`},
		`a'b c'd`:                              {"ab cd"},
		`a\ b`:                                 {"a b"},
		`''`:                                   {""},
		`--format '{{.Label "role"}}'`:         {"--format", `{{.Label "role"}}`},
		"table '{{.Names}}\t{{.Status}}'":      {"table", "{{.Names}}\t{{.Status}}"},
		`sh -c 'trap "exit 7" TERM; echo $$'`:  {"sh", "-c", `trap "exit 7" TERM; echo $$`},
		`import --change 'CMD ["echo","x"]' f t:v1`: {"import", "--change", `CMD ["echo","x"]`, "f", "t:v1"},
	} {
		got, err := splitWords(line)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", line, got, err, want)
		}
	}
	for _, bad := range []string{`'open`, `"open`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q) succeeded", bad)
		}
	}
}

func TestExpand(t *testing.T) {
	v := vars{"name": "n1", "reg": "127.0.0.1:5000"}
	for in, want := range map[string]string{
		"{name}":                "n1",
		"{reg}/{name}:v1":       "127.0.0.1:5000/n1:v1",
		"{{range .X}}{{end}}":   "{{range .X}}{{end}}",
		"{{.Name}} {name}":      "{{.Name}} n1",
		`{{index .Labels "k"}}`: `{{index .Labels "k"}}`,
		"no vars":               "no vars",
	} {
		if got := v.expand(in); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("expand of an unknown var did not panic")
		}
	}()
	v.expand("{nosuchvar}")
}
