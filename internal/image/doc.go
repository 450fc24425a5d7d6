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
// On disk, under the store's root (blobs live in the content store, layers
// in the snapshotter, each under its own root):
//
//	images.json        every record: {"version":1,"images":[{name, target,
//	                   labels, createdAt, updatedAt}, ...]}, replaced
//	                   atomically (temp file, fsync, rename, fsync dir)
//	images.lock        flock: shared to read, exclusive to change
//	.tmp-images.json-* a write in progress; removed on open
//
// Unpacked layers are committed snapshots named by chain ID (identity
// ChainID of the diff_ids), labelled with their diff_id and layer digest.
// An unpack prepares each layer under a key "berth-unpack-<random>-<short
// chain>" and commits it under the chain ID only once it is applied and
// its diff_id verified; keys with that prefix found on open belong to a
// killed unpack and are removed.
//
// Garbage collection is mark and sweep under the store's GC lock. Roots:
// every record's target, the live leases, and the extra roots the daemon
// passes. Marks follow index -> manifests -> config and layers, and from
// each manifest whose config parses, its chain IDs and their parents;
// active and view snapshots (containers, unpacks in progress) and their
// parents are always kept. Everything else is swept: blobs, and committed
// snapshots children first. A Lease (in memory) protects what a writer
// has written but not yet recorded; Lease.Commit commits a blob and leases
// it under the GC lock, so no collection can fall between the two. An
// optional grace period keeps young blobs for writers in other processes.
//
// Concurrency: one Store per root per process; records are also guarded by
// an flock on the records file so that a second process (a CLI tool, a
// test) can read and edit them safely. Garbage collection runs under the
// store's lock and honours leases (see Lease), so blobs and snapshots that a
// pull or a load has written but not yet referenced from a record are never
// collected.
package image
