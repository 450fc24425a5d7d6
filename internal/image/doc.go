// Package image is Berth's image store: records that map a name (a
// normalized docker reference) to a target descriptor (a manifest or an
// index) in the content store, the parsing of manifests, indexes and image
// configs, platform selection, unpacking layers into snapshots keyed by
// chain ID, inspect and history in the Engine API's shape, docker rmi
// semantics, garbage collection, prune, disk usage, consistency checks,
// and import/export of root filesystems.
//
// Saving and loading images as docker-archive and OCI image layout tar
// streams lives in the subpackage archive.
//
// An image's ID is its config's digest, as docker's: two names whose
// targets resolve (for the store's platform) to one config are one image.
//
// Concurrency: one Store per root per process; records are also guarded by
// an flock on the records file so that a second process (a CLI tool, a
// test) can read and edit them safely. Garbage collection runs under the
// store's lock and honours leases (see Lease), so blobs and snapshots that a
// pull or a load has written but not yet referenced from a record are never
// collected.
package image
