package logs

import (
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// Driver names.
const (
	JSONFile = "json-file"
	Local    = "local"
	None     = "none"
)

// Message is one log entry.
//
// Line holds the bytes as the container wrote them, including the
// trailing newline of a complete line; Partial is set when the line had
// none (it was longer than the split size, or the stream ended without
// one). This is how docker's json-file driver stores lines, so Line can be
// written out as-is by `docker logs`.
type Message struct {
	Stream  string // "stdout" or "stderr"
	Line    []byte
	Time    time.Time
	Partial bool
	// Attrs are json-file's extra attributes (ExtraAttrs), as read back.
	Attrs map[string]string
}

// Writer receives a container's output. The shim owns one per container.
type Writer interface {
	// WriteMessage stores m. m.Line is not retained after it returns.
	WriteMessage(m Message) error
	Close() error
}

var (
	_ Writer = (*JSONFileWriter)(nil)
	_ Writer = (*LocalWriter)(nil)
	_ Writer = noneWriter{}
)

// NewWriter opens a writer for driver at path ("none" ignores path).
// Options are checked as docker checks them; a bad one is an
// InvalidParameter error. local's path is docker's
// <container dir>/local-logs/container.log; its directory is created
// (0700, as docker's) if missing.
func NewWriter(driver, path string, opts map[string]string) (Writer, error) {
	return NewWriterAttrs(driver, path, opts, nil)
}

// NewWriterAttrs is NewWriter with the extra attributes (ExtraAttrs) that
// json-file stores with each entry; the other drivers keep none, as
// docker's.
func NewWriterAttrs(driver, path string, opts, attrs map[string]string) (Writer, error) {
	switch driver {
	case JSONFile, "":
		return newJSONFileWriter(path, opts, attrs)
	case Local:
		return NewLocalWriter(path, opts)
	case None:
		if len(opts) != 0 {
			for k := range opts {
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown log opt '%s' for none log driver", k)
			}
		}
		return noneWriter{}, nil
	default:
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "logger: no log driver named '%s' is registered", driver)
	}
}

// ValidateOpts checks a driver's options without opening anything, for
// the daemon to refuse a bad `--log-opt` at create time.
func ValidateOpts(driver string, opts map[string]string) error {
	switch driver {
	case JSONFile, "":
		_, err := parseJSONFileOpts(opts)
		return err
	case Local:
		_, err := parseLocalOpts(opts)
		return err
	case None:
		for k := range opts {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "unknown log opt '%s' for none log driver", k)
		}
		return nil
	default:
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "logger: no log driver named '%s' is registered", driver)
	}
}

// noneWriter is the "none" driver: output goes to attached clients only.
type noneWriter struct{}

func (noneWriter) WriteMessage(Message) error { return nil }
func (noneWriter) Close() error               { return nil }
