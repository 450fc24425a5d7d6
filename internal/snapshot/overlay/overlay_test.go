//go:build linux

package overlay

import (
	"context"
	"testing"

	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/snapshottest"
)

func newTestSnapshotter(opts ...Opt) snapshottest.NewFunc {
	return func(ctx context.Context, t *testing.T, root string) (snapshot.Snapshotter, func() error, error) {
		s, err := NewSnapshotter(root, opts...)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
}

func TestOverlay(t *testing.T) {
	snapshottest.Suite(t, "overlay", newTestSnapshotter())
}
