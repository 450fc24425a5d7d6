package logs

import (
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"
)

// appendEntry appends m as one json-file line, exactly as docker's
// jsonlog.JSONLogs.MarshalJSONBuf writes it (field order, escaping of <, >,
// &, U+2028/U+2029 and invalid UTF-8, RFC 3339 with trimmed nanoseconds in
// UTC), newline included. attrs, when set, is the encoded "attrs" object,
// written between stream and time as docker does.
func appendEntry(dst []byte, m Message, attrs []byte) []byte {
	dst = append(dst, '{')
	first := true
	if len(m.Line) != 0 {
		first = false
		dst = append(dst, `"log":`...)
		dst = appendString(dst, m.Line)
	}
	if m.Stream != "" {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, `"stream":`...)
		dst = appendString(dst, []byte(m.Stream))
	}
	if len(attrs) != 0 {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, `"attrs":`...)
		dst = append(dst, attrs...)
	}
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `"time":"`...)
	dst = m.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"', '}', '\n')
}

func appendString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// entry is a json-file line as decoded.
type entry struct {
	Log    string            `json:"log"`
	Stream string            `json:"stream"`
	Attrs  map[string]string `json:"attrs"`
	Time   time.Time         `json:"time"`
}

var errNoTime = errors.New("entry has no time")

// decodeEntry parses one json-file line (without its newline).
func decodeEntry(line []byte) (Message, error) {
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		return Message{}, err
	}
	if e.Time.IsZero() {
		return Message{}, errNoTime
	}
	n := len(e.Log)
	return Message{
		Stream:  e.Stream,
		Line:    []byte(e.Log),
		Time:    e.Time,
		Attrs:   e.Attrs,
		Partial: n == 0 || e.Log[n-1] != '\n',
	}, nil
}
