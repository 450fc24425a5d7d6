//go:build !linux

package cpath

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/berth-project/berth/internal/errdefs"
)

var errOS = fmt.Errorf("docker cp on %s: %w", runtime.GOOS, errdefs.ErrNotImplemented)

// Stat is Linux only.
func Stat(context.Context, string, string) (PathStat, error) { return PathStat{}, errOS }

// Archive is Linux only.
func Archive(context.Context, string, string, ArchiveOptions) (io.ReadCloser, PathStat, error) {
	return nil, PathStat{}, errOS
}

// Extract is Linux only.
func Extract(context.Context, string, string, io.Reader, ExtractOptions) error { return errOS }

// LookupOwner is Linux only.
func LookupOwner(context.Context, string, string) (Owner, error) { return Owner{}, errOS }
