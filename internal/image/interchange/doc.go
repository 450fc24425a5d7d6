// Package interchange saves images as tar streams and loads them back: the
// interchange formats of docker save/load and of OCI image layouts.
//
// Save writes one tar that is both formats at once, as docker 25 and later
// do: an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>) and
// docker's manifest.json and repositories whose Config and Layers point
// into the same blobs. Layers are written as stored (compressed), so
// manifests and their digests survive a round trip; docker 20 and later,
// skopeo's docker-archive: and oci: transports, and umoci read it.
//
// Load reads either format, or both (preferring the OCI index, which keeps
// manifest digests), and several images per archive. It streams every
// file into the content store as it arrives (the order of entries in a tar
// is free, so nothing can be known until the end), verifying each blob
// whose name is its digest; only when every image of the archive checks
// out does it create their records, all at once. A rejected archive leaves
// no record and no blob it brought.
//
// Archives are hostile input: entry names that climb out or are absolute,
// links that point outside the archive, manifests naming files that are
// not there, blobs whose content is not their digest, layers whose content
// is not their config's diff_id, truncated streams and oversized metadata
// are all rejected with errdefs.ErrInvalidParameter (or NotFound for a
// missing blob) and a message that names the entry.
package interchange
