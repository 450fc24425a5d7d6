package spec

import (
	"path"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// tmpfsFlags groups the flag options by the mount flag they set or clear:
// of two options for one flag (noexec, exec), the later wins.
var tmpfsFlags = map[string]string{
	"ro": "rdonly", "rw": "rdonly",
	"suid": "nosuid", "nosuid": "nosuid",
	"dev": "nodev", "nodev": "nodev",
	"exec": "noexec", "noexec": "noexec",
	"sync": "sync", "async": "sync",
	"dirsync": "dirsync",
	"remount": "remount",
	"mand":    "mand", "nomand": "mand",
	"atime": "noatime", "noatime": "noatime",
	"diratime": "nodiratime", "nodiratime": "nodiratime",
	"relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime",
	"private": "propagation", "rprivate": "propagation",
	"shared": "propagation", "rshared": "propagation",
	"slave": "propagation", "rslave": "propagation",
	"unbindable": "propagation", "runbindable": "propagation",
}

// tmpfsData are the key=value options tmpfs takes.
var tmpfsData = map[string]bool{
	"size": true, "mode": true, "uid": true, "gid": true,
	"nr_inodes": true, "nr_blocks": true, "mpol": true,
}

// tmpfsOptions is docker's option list for a --tmpfs mount: noexec, nosuid,
// nodev and rprivate, then the user's comma-separated options, merged so
// that a later option replaces an earlier one of the same kind
// ("exec" drops "noexec", a second "size=" replaces the first).
func tmpfsOptions(data string) ([]string, error) {
	opts := []string{"noexec", "nosuid", "nodev", "rprivate"}
	if data != "" {
		opts = append(opts, strings.Split(data, ",")...)
	}
	seen := map[string]bool{}
	var out []string
	for i := len(opts) - 1; i >= 0; i-- {
		o := opts[i]
		if o == "defaults" {
			continue
		}
		key, isFlag := tmpfsFlags[o]
		if !isFlag {
			k, _, ok := strings.Cut(o, "=")
			if !ok || !tmpfsData[k] {
				return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid tmpfs option %q", o)
			}
			key = "data:" + k
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append([]string{o}, out...)
	}
	return out, nil
}

// checkTmpfs validates --tmpfs destinations (absolute, not /) and options.
func (g *generator) checkTmpfs() error {
	for dest, data := range g.host.Tmpfs {
		if !path.IsAbs(dest) {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mount config for type \"tmpfs\": invalid mount path: '%s' mount path must be absolute", dest)
		}
		if path.Clean(dest) == "/" {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid specification: destination can't be '/'")
		}
		if _, err := tmpfsOptions(data); err != nil {
			return err
		}
	}
	return nil
}
