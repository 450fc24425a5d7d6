//go:build linux

package native

import (
	"context"
	"testing"

	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/snapshottest"
)

func newTestSnapshotter(ctx context.Context, t *testing.T, root string) (snapshot.Snapshotter, func() error, error) {
	s, err := NewSnapshotter(root)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}

func TestNative(t *testing.T) {
	snapshottest.Suite(t, "native", newTestSnapshotter)
}
