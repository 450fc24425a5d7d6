package opts

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ReadKVFiles reads --env-file or --label-file files and appends the values
// given on the command line after them (so -e overrides --env-file). A line
// "KEY" with no "=" takes its value from lookup, and is left out when lookup
// finds nothing or is nil (label files).
func ReadKVFiles(files, values []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, name := range files {
		lines, err := readKVFile(name, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return append(out, values...), nil
}

func readKVFile(name string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lines, err := parseKV(f, lookup)
	if err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %v", name, err)
	}
	return lines, nil
}

func parseKV(r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("invalid utf8 bytes at line %d: %v", n, raw)
		}
		if n == 1 {
			raw = bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
		}
		// Leading blanks go; trailing ones belong to the value.
		line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		key, _, hasValue := strings.Cut(line, "=")
		if key == "" {
			return nil, fmt.Errorf("no variable name on line '%s'", line)
		}
		if strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("variable '%s' contains whitespaces", key)
		}
		if hasValue {
			lines = append(lines, line)
			continue
		}
		if lookup != nil {
			if v, ok := lookup(line); ok {
				lines = append(lines, key+"="+v)
			}
		}
	}
	return lines, sc.Err()
}
