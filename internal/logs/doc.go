// Package logs holds the container log drivers: the writers the shim feeds
// with a container's output and the readers the daemon serves `docker logs`
// from.
//
// json-file is docker's default driver, byte for byte: one JSON object a
// line, {"log":"hi\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"},
// with docker's escaping and RFC 3339 timestamps in UTC, in a file that
// rotates as docker's does (max-size, max-file: file.log, file.log.1, ...).
// local is docker's local driver, also byte for byte: protobuf LogEntry
// frames (local_entry.go) in <container dir>/local-logs/container.log,
// rotated at max-size (default 20 MiB) into max-file files (default 5),
// the rotated ones gzip'ed (container.log.1.gz, ...) unless compress=false.
// "none" keeps nothing and cannot be read.
//
// The writer lives in the shim and the reader in the daemon: two processes
// that share nothing but the files. So a reader never trusts a moment's
// view of the directory: it checks inodes to notice rotation, waits with
// inotify rather than by polling, and treats an unterminated last line as
// not yet written. The local driver's files are also locked (an flock on
// their directory, local_lock_linux.go) while a rotation renames them, so
// its readers open a consistent set.
package logs
