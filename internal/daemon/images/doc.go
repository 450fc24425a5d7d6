// Package images is the daemon's image service: the Engine API's image
// endpoints (the server's ImageBackend) over the image store (package
// image), the registry client (distribution), pull and push (transfer) and
// save/load (interchange). It owns the image side of the data root:
//
//	<root>/content/            blobs (package content)
//	<root>/snapshots/          overlay snapshots (package snapshot/overlay)
//	<root>/snapshots-native/   copying snapshots, where overlay cannot mount
//	<root>/images/             image records (package image)
//
// What it adds to those packages is the daemon's policy: docker's wording
// of errors ("No such image: x", docker rmi's conflicts), which containers
// hold an image (asked of the daemon through Options.ImageInUse), image
// events on the bus, credentials from X-Registry-Auth or the docker config
// file, and the rule for streamed answers: an error before anything was
// written is returned for the server to answer with a status code; after,
// it is also written into the stream as docker's errorDetail message.
package images
