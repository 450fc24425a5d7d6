// Package archive turns layer tarballs into files and files back into
// layer tarballs: Apply extracts a tar, tar+gzip or tar+zstd layer into a
// directory, turning whiteouts into the form the target needs, and
// WriteDiff writes the layer that takes one tree to another. Layer archives
// are hostile input: nothing is ever written outside the target directory.
package archive
