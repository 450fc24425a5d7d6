// Package transfer is docker pull and docker push: the registry client
// (package distribution) joined to the image store (package image), so
// that the daemon's POST /images/create and /images/{name}/push, and any
// tool that pulls, do it one way.
//
// Pull fetches an image under a lease (garbage collection spares what it
// has written until the record exists), starts the image store's pipelined
// unpack as soon as the manifest and config are stored and hands it each
// layer as soon as that layer and those before it are committed, so
// download and extraction overlap. Once every layer is a committed
// snapshot it creates or moves the record: the name pulled points at the
// root the registry served (a by-digest pull records repo@digest, as
// docker does). Only then is the image visible, so a pull killed at any
// moment leaves no record of a half-pulled image, and the next pull of the
// same reference finds the blobs committed before the kill (they are not
// requested again), continues half-downloaded ones with a Range request,
// and re-extracts only the layers whose snapshots were never committed.
//
// Push pushes what a record names.
//
// # The progress stream
//
// Each call emits one stream of Engine API JSON messages in the order the
// docker CLI renders, for a pull:
//
//	{"status":"Pulling from library/busybox","id":"latest"}
//	{"status":"Pulling fs layer","progressDetail":{},"id":"<layer>"}     per layer ("Already exists" if stored)
//	{"status":"Waiting","progressDetail":{},"id":"<layer>"}              while no download slot is free
//	{"status":"Downloading","progressDetail":{"current":..,"total":..},"id":"<layer>"}
//	{"status":"Verifying Checksum","progressDetail":{},"id":"<layer>"}
//	{"status":"Download complete","progressDetail":{},"id":"<layer>"}
//	{"status":"Extracting","progressDetail":{"current":..,"total":..,"start":..},"id":"<layer>"}
//	{"status":"Pull complete","progressDetail":{},"id":"<layer>"}
//	{"status":"Digest: sha256:..."}
//	{"status":"Status: Downloaded newer image for busybox:latest"}    or "Image is up to date for ..."
//
// Layers interleave, but a layer's "Extracting" never comes before its
// "Download complete". For a push: "The push refers to repository
// [...]", per layer "Preparing", ["Waiting"], "Pushing"... "Pushed" (or
// "Layer already exists", "Mounted from <repo>"), then "<tag>: digest:
// sha256:... size: N" and an aux message {"Tag","Digest","Size"}.
//
// A failure is returned, not written: the caller (the API server) ends
// the stream with the error line, once. The stream never holds up the
// transfer: messages queue while the consumer is slow (byte counts of one
// layer merge), and Pull and Push return after the last one is delivered.
package transfer
