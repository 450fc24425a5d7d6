//go:build !linux

package archive

import (
	"context"
	"io"
	"os"
)

// WriteTreeAt is Linux only.
func WriteTreeAt(context.Context, io.Writer, *os.File, string, string) error { return errOS }
