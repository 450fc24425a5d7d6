package logs

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEntry checks that no container output can break the json-file
// format: every entry is one line, decodes, and gives back the output
// (invalid UTF-8 becomes U+FFFD, as docker writes it).
func FuzzEntry(f *testing.F) {
	for _, s := range []string{"hello\n", "", "\x00\xff\n", "a\r\nb\n", "<>&\"\\", "\u2028\u2029", strings.Repeat("é", 100)} {
		f.Add([]byte(s), "stdout")
	}
	f.Fuzz(func(t *testing.T, line []byte, stream string) {
		if stream != "stdout" {
			stream = "stderr"
		}
		enc := appendEntry(nil, Message{Stream: stream, Line: line, Time: t0}, nil)
		if bytes.IndexByte(enc, '\n') != len(enc)-1 {
			t.Fatalf("entry %q is not one line", enc)
		}
		m, err := decodeEntry(enc[:len(enc)-1])
		if err != nil {
			t.Fatalf("entry %q does not decode: %v", enc, err)
		}
		// Invalid UTF-8 comes back with U+FFFD for each bad byte.
		if utf8.Valid(line) && !bytes.Equal(m.Line, line) {
			t.Fatalf("line %q came back as %q", line, m.Line)
		}
		if !utf8.Valid(m.Line) {
			t.Fatalf("decoded line %q is not UTF-8", m.Line)
		}
		if m.Stream != stream || !m.Time.Equal(t0) {
			t.Fatalf("decoded %+v", m)
		}
	})
}
