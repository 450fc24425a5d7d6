package cli

import (
	"io"

	"golang.org/x/term"
)

// Streams are the command's standard input, output and error. When In or
// Out is a terminal (an *os.File on a tty), run -t and exec -t put it in
// raw mode and follow its size.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// fdOf returns the file descriptor behind v when it has one.
func fdOf(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}

// isTerminal reports whether v is a terminal.
func isTerminal(v any) bool {
	fd, ok := fdOf(v)
	return ok && term.IsTerminal(fd)
}

// terminalSize is v's size as (height, width), zero when v is no terminal.
func terminalSize(v any) (uint, uint) {
	fd, ok := fdOf(v)
	if !ok {
		return 0, 0
	}
	w, h, err := term.GetSize(fd)
	if err != nil {
		return 0, 0
	}
	return uint(h), uint(w)
}
