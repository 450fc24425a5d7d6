// Package imagetest builds real images for tests and moves them through
// the formats and tools Berth must interoperate with, independent of
// Berth's own image code:
//
//   - BusyboxImage and MultiArchIndex generate images from the host's
//     busybox-static, with every kind of tar entry an unpacker must handle
//     (CheckBusyboxTree checks an unpacked tree against them);
//   - WriteOCILayout, WriteDockerArchive and Push put them where Berth
//     reads from: an OCI layout, a `docker save` tar, a registry started by
//     registrytest.Start;
//   - SkopeoCopy and UmociUnpack run the reference tools on the same
//     inputs, and CompareTrees compares what Berth and umoci unpacked.
//
// Images are go-containerregistry v1.Image values: test tooling may use
// ggcr freely, production code reaches it only through Berth's packages.
// A missing tool fails the test with the package that provides it (all are
// installed by scripts/setup.sh); nothing is skipped.
package imagetest
