// Package container is Berth's container model: the record of one
// container (its docker Config and HostConfig as the Engine API's own
// types, its image, its state), the explicit state machine that record
// moves through, the on-disk store of every record, container names, and
// the Task interface through which the daemon drives a running container
// (the shim's client implements it; tests use a fake).
//
// On disk, under the store's root (the daemon's data root + "/containers"):
//
//	<id>/config.v2.json   the whole record, replaced atomically (temp file,
//	                      fsync, rename, fsync of the directory)
//	<id>/.tmp-*           a write in progress; removed on open
//	<id>/...              what the daemon keeps beside it (hostname, hosts,
//	                      resolv.conf, the json-file log)
//
// A directory without a readable config.v2.json is a container whose
// creation did not finish (or whose record a full disk truncated before
// the rename, which cannot happen with the rename protocol); Open reports
// it and leaves it for the daemon to delete.
//
// The package does no I/O but its own files: it never talks to a shim,
// mounts nothing and starts nothing. Locking: the Store guards its indexes;
// each Container has its own mutex, which callers hold while they read or
// change the record and while they Save it.
package container
