//go:build !linux

package archive

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/berth-project/berth/internal/errdefs"
)

var errOS = fmt.Errorf("archive on %s: %w", runtime.GOOS, errdefs.ErrNotImplemented)

// ChangeKind is what happened to a path between two trees.
type ChangeKind int

const (
	ChangeModify ChangeKind = iota
	ChangeAdd
	ChangeDelete
)

// Change is one line of `docker diff`.
type Change struct {
	Kind ChangeKind
	Path string
}

// Apply is Linux only.
func Apply(context.Context, string, io.Reader, ...ApplyOpt) (int64, error) { return 0, errOS }

// WriteDiff is Linux only.
func WriteDiff(context.Context, io.Writer, string, string, ...DiffOpt) error { return errOS }

// Changes is Linux only.
func Changes(context.Context, string, string, ...DiffOpt) ([]Change, error) { return nil, errOS }

// WriteTar is Linux only.
func WriteTar(context.Context, io.Writer, string, ...TarOpt) error { return errOS }
