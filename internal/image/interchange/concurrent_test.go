package interchange

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/imagetest"
)

// TestGCDuringLoad runs garbage collection over and over while loads
// stream blobs in: leases keep every blob a load wrote until its records
// exist, so each load completes and the store ends consistent.
func TestGCDuringLoad(t *testing.T) {
	ctx := context.Background()
	src := newStore(t, nil)
	for i, name := range []string{"a:1", "b:1", "c:1"} {
		img := imagetest.BusyboxImage(t, imagetest.WithRandomLayer(4<<20), imagetest.WithSeed(uint64(i+1)))
		if _, err := src.Create(ctx, image.Image{Name: name, Target: putImage(t, src, img)}); err != nil {
			t.Fatal(err)
		}
	}
	var archives [][]byte
	for _, name := range []string{"a:1", "b:1", "c:1"} {
		var buf bytes.Buffer
		if err := Save(ctx, &buf, src, []string{name}); err != nil {
			t.Fatal(err)
		}
		archives = append(archives, buf.Bytes())
	}
	for round := 0; round < 5; round++ {
		dst := newStore(t, nil)
		var stop atomic.Bool
		gcDone := make(chan int)
		go func() {
			n := 0
			for !stop.Load() {
				if _, err := dst.GC(ctx); err != nil {
					t.Error(err)
				}
				n++
			}
			gcDone <- n
		}()
		errs := make(chan error, len(archives))
		for _, a := range archives {
			go func(a []byte) {
				_, err := Load(ctx, bytes.NewReader(a), dst)
				errs <- err
			}(a)
		}
		for range archives {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		stop.Store(true)
		n := <-gcDone
		for _, name := range []string{"a:1", "b:1", "c:1"} {
			if imageID(t, dst, name) != imageID(t, src, name) {
				t.Fatalf("%s differs", name)
			}
		}
		assertConsistent(t, dst)
		if round == 0 {
			t.Logf("%d collections ran during the loads", n)
		}
	}
}
