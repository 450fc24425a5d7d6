package distribution_test

import (
	"testing"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// BenchmarkPull pulls the benchmarks' ~200 MB three-layer busybox image
// (imagetest.WithTotalSize, gzip, as pushed by ggcr) from a local
// docker-registry into a fresh content store, with the defaults (3 blobs
// at a time, every byte hashed, fsync at commit).
func BenchmarkPull(b *testing.B) {
	reg := benchRegistry(b)
	for b.Loop() {
		b.StopTimer()
		store := newStore(b)
		b.StartTimer()
		if _, err := distribution.Pull(b.Context(), reg.Ref("bench/pull:latest"), store); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPullSkopeo is the same pull by skopeo into an OCI layout, the
// reference to compare with.
func BenchmarkPullSkopeo(b *testing.B) {
	reg := benchRegistry(b)
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		imagetest.SkopeoCopy(b, "docker://"+reg.Ref("bench/pull:latest"), "oci:"+dir+":x")
	}
}

// benchRegistry starts a registry holding the ~200 MB image, and sets the
// benchmark's bytes to its compressed size.
func benchRegistry(b *testing.B) *registrytest.Registry {
	reg := registrytest.Start(b)
	img := imagetest.BusyboxImage(b, imagetest.WithTotalSize(200<<20))
	imagetest.Push(b, reg, "bench/pull:latest", img)
	var size int64
	for _, l := range layerDescs(b, img) {
		size += l.Size
	}
	b.SetBytes(size)
	return reg
}
