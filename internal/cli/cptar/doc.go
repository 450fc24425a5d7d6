// Package cptar is the client's side of `docker cp`: what the docker CLI
// does on the local filesystem around the archive endpoints.
//
// Copying in, the CLI stats the destination in the container (HEAD
// .../archive), describes the local source (SourceInfo), tars it (Tar),
// and lets Prepare say which directory of the container to extract into
// and how to rename the archive's first element so that the copy lands
// where docker's documented rules put it:
//
//	src is a file, dst missing   -> the file is created as dst
//	src is a file, dst a file    -> dst is overwritten
//	src is a file, dst a dir     -> the file is copied into it
//	src is a dir, dst missing    -> dst is created with src's contents
//	src is a dir, dst a dir      -> src is copied into it, unless src
//	                                ends in "/." (its contents are)
//	src is a dir, dst a file     -> ErrCannotCopyDir
//	dst ends in "/" but missing  -> ErrDirNotExists (for a file source)
//
// Copying out, the CLI reads the tar of GET .../archive, describes the
// local destination (DestinationInfo) and extracts with Extract, which
// applies the same rules through Prepare and keeps every entry inside the
// destination directory (os.Root: no "..", no symlink out of it).
//
// The error values and messages are the docker CLI's (moby/go-archive's),
// which scripts match on.
package cptar
