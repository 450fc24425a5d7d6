package image

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv"
)

// TestUnpackTiming times the unpack of a ~200 MB three-layer image into
// overlay (the fast path: straight into the upper directory) and into a
// copying snapshotter. Set BERTH_BENCH=1.
func TestUnpackTiming(t *testing.T) {
	if os.Getenv("BERTH_BENCH") == "" {
		t.Skip("BERTH_BENCH is not set")
	}
	testenv.RequireRoot(t)
	ctx := context.Background()
	img := imagetest.BusyboxImage(t, imagetest.WithTotalSize(200<<20), imagetest.WithCompression(imagetest.Uncompressed))
	for _, sc := range snapshotters {
		s := newTestStore(t, sc.new(t))
		rec := mustCreate(t, s, "bench", putImage(t, s, img))
		start := time.Now()
		if _, err := s.Unpack(ctx, rec); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: unpack of 200 MB in 3 layers: %v", sc.name, time.Since(start))
	}
}
