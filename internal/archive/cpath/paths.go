package cpath

import (
	"path"
	"strings"
)

// absPath makes p a clean absolute path in the container, as dockerd does
// (path.Join with "/", so ".." is resolved lexically and stops at "/"),
// keeping a trailing "/" or "/." of p: they assert a directory, and "/."
// also means its contents.
func absPath(p string) string {
	return keepTrailing(path.Join("/", p), p)
}

// keepTrailing is go-archive's PreserveTrailingDotOrSeparator for "/".
func keepTrailing(cleaned, original string) string {
	if !currentDir(cleaned) && currentDir(original) {
		if !strings.HasSuffix(cleaned, "/") {
			cleaned += "/"
		}
		cleaned += "."
	}
	if !strings.HasSuffix(cleaned, "/") && strings.HasSuffix(original, "/") {
		cleaned += "/"
	}
	return cleaned
}

// currentDir says the last element of p is ".".
func currentDir(p string) bool { return path.Base(p) == "." }

// assertsDir says p ends in "/" or "/.".
func assertsDir(p string) bool { return strings.HasSuffix(p, "/") || currentDir(p) }

// baseName is the name dockerd gives p in a PathStat and as the first
// element of archive entries: filepath.Base, so "/" for the root, "." for
// "dir/.", and "dir" for "dir/".
func baseName(abs string) string { return path.Base(abs) }
