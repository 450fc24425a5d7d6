package format

import (
	"strings"
	"unicode/utf8"
)

// ShortIDLength is how many characters of an ID docker shows.
const ShortIDLength = 12

// TruncateID drops an algorithm prefix ("sha256:") and keeps the first 12
// characters of an ID.
func TruncateID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > ShortIDLength {
		id = id[:ShortIDLength]
	}
	return id
}

// Ellipsis shortens s to at most max characters, the last being "…".
func Ellipsis(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	if max == 1 {
		return string(r[0])
	}
	return string(r[:max-1]) + "…"
}
