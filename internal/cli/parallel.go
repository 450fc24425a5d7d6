package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// maxParallel is how many containers stop, kill, rm and friends act on at
// once, as docker.
const maxParallel = 50

// parallel runs op on every name, at most maxParallel at a time, and
// returns the results in the order of names.
func parallel(ctx context.Context, names []string, op func(ctx context.Context, name string) error) []error {
	results := make([]chan error, len(names))
	sem := make(chan struct{}, maxParallel)
	for i, name := range names {
		results[i] = make(chan error, 1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			results[i] <- op(ctx, name)
		}()
	}
	errs := make([]error, len(names))
	for i := range names {
		errs[i] = <-results[i]
	}
	return errs
}

// forEachContainer is the shape of stop, kill, pause, ...: act on every
// container, print each name that worked, and fail with every error.
func forEachContainer(ctx context.Context, out io.Writer, names []string, op func(ctx context.Context, name string) error) error {
	var failed []error
	for i, err := range parallel(ctx, names, op) {
		if err != nil {
			failed = append(failed, err)
			continue
		}
		fmt.Fprintln(out, names[i])
	}
	return errors.Join(failed...)
}
