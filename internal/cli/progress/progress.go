// Package progress renders the daemon's JSON progress stream (pull, push,
// load, import) the way the docker CLI does. On a terminal each layer keeps
// one line that is redrawn in place as its status and bar change; anywhere
// else every status change is one plain line and the byte counts are left
// out, so logs stay readable.
package progress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
)

// Options say where the stream is shown.
type Options struct {
	// Terminal redraws per-layer lines in place with ANSI cursor moves.
	Terminal bool
	// Width is the terminal's width; bars are drawn only when it is
	// wider than 110 columns. 0 means 200.
	Width int
	// Aux receives out-of-band messages (push digests, load results).
	Aux func(json.RawMessage)
	// Now is the clock for time-left estimates; nil means time.Now.
	Now func() time.Time
}

// message is one line of the stream. Besides the API type it keeps the
// legacy members older daemons send: "error" and the pre-rendered bar.
type message struct {
	jsonstream.Message
	ErrorText   string `json:"error,omitempty"`
	ProgressBar string `json:"progress,omitempty"`
}

// Error is an error the daemon reported inside the stream.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Display reads messages from r until it ends and draws them on out. It
// returns the first error the stream carries, after drawing what came
// before it.
func Display(r io.Reader, out io.Writer, opts Options) error {
	if opts.Width == 0 {
		opts.Width = 200
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dec := json.NewDecoder(r)
	// lines maps a layer id to its line, counted from the first tracked
	// line; a message without a bar ends the tracked block.
	lines := map[string]int{}
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Aux != nil {
			if opts.Aux != nil {
				opts.Aux(*m.Aux)
			}
			continue
		}
		if m.Error != nil {
			return &Error{Code: m.Error.Code, Message: m.Error.Message}
		}
		if m.ErrorText != "" {
			return &Error{Message: m.ErrorText}
		}
		up := 0
		if m.ID != "" && m.Progress != nil {
			line, ok := lines[m.ID]
			if !ok {
				line = len(lines)
				lines[m.ID] = line
				if opts.Terminal {
					io.WriteString(out, "\n")
				}
			}
			up = len(lines) - line
			if opts.Terminal {
				fmt.Fprintf(out, "\x1b[%dA", up)
			}
		} else {
			lines = map[string]int{}
		}
		draw(out, m, opts)
		if m.ID != "" && opts.Terminal && up > 0 {
			fmt.Fprintf(out, "\x1b[%dB", up)
		}
	}
}

// draw writes one message: on a terminal a bar message overwrites its own
// line and ends with a carriage return instead of a newline.
func draw(out io.Writer, m message, opts Options) {
	end := "\n"
	if opts.Terminal && m.Stream == "" && m.Progress != nil {
		io.WriteString(out, "\x1b[2K\r")
		end = "\r"
	} else if m.Progress != nil && (m.Progress.Current > 0 || m.Progress.Total > 0) {
		// Byte counts are noise outside a terminal.
		return
	}
	if m.ID != "" {
		fmt.Fprintf(out, "%s: ", m.ID)
	}
	switch {
	case m.Progress != nil && opts.Terminal:
		bar := Bar(*m.Progress, opts.Width, opts.Now())
		if bar == "" && m.ProgressBar != "" {
			bar = m.ProgressBar
		}
		fmt.Fprintf(out, "%s %s%s", m.Status, bar, end)
	case m.Stream != "":
		io.WriteString(out, m.Stream)
	default:
		fmt.Fprintf(out, "%s%s", m.Status, end)
	}
}

// Bar is docker's progress bar for p: "[=====>     ]  1.2MB/4.2MB 3s",
// the bar itself only on terminals wider than 110 columns and the time
// left only wider than 50.
func Bar(p jsonstream.Progress, width int, now time.Time) string {
	if p.Current <= 0 && p.Total <= 0 {
		return ""
	}
	if p.Total <= 0 {
		if p.Units == "" {
			return fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
		}
		return fmt.Sprintf("%d %s", p.Current, p.Units)
	}
	half := min(int(float64(p.Current)/float64(p.Total)*100)/2, 50)
	var bar, counts, left string
	if width > 110 {
		bar = "[" + strings.Repeat("=", half) + ">" + strings.Repeat(" ", max(50-half, 0)) + "] "
	}
	switch {
	case p.HideCounts:
	case p.Units == "":
		counts = fmt.Sprintf("%8v/%v", units.HumanSize(float64(p.Current)), units.HumanSize(float64(p.Total)))
		if p.Current > p.Total {
			counts = fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
		}
	default:
		counts = fmt.Sprintf("%d/%d %s", p.Current, p.Total, p.Units)
		if p.Current > p.Total {
			counts = fmt.Sprintf("%d %s", p.Current, p.Units)
		}
	}
	if width > 50 && p.Current > 0 && p.Start > 0 && half < 50 {
		perByte := now.UTC().Sub(time.Unix(p.Start, 0)) / time.Duration(p.Current)
		left = " " + (time.Duration(p.Total-p.Current) * perByte).Round(time.Second).String()
	}
	return bar + counts + left
}
