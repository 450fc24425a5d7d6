package runtime

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Deleting a container whose init has exited is, for most containers:
// under the container's lock (LockFile), remove each of its cgroup
// directories, then its state directory. A supervisor that reaped the
// init itself (the shim) can do that without a process start of this
// binary: the file DirectDeleteFile in the state directory says it may,
// and lists the cgroup directories, one absolute path a line. Create
// writes it only when delete has nothing else to do: no poststop hooks.
//
// The supervisor removes the directories as they are (leaf cgroups; a
// directory still busy or holding child cgroups is not its business) and,
// if one cannot be removed, leaves everything as it is for
// `berth-runtime delete`, which kills stray processes, removes nested
// cgroups and waits for busy ones. Like the start handshake
// (directstart.go), this is a contract with the shim: change it only
// with a new file name.
const DirectDeleteFile = "delete.direct"

// directDeleteAllowed tells whether deleting the stopped container is only
// removing its cgroups and state.
func directDeleteAllowed(spec *specs.Spec) bool {
	return spec.Hooks == nil || len(spec.Hooks.Poststop) == 0
}

// writeDirectDelete writes DirectDeleteFile for a container with the
// cgroup directories paths (controller -> directory), unless a path does
// not fit the format.
func writeDirectDelete(dir string, paths map[string]string) error {
	seen := map[string]bool{}
	var dirs []string
	for _, d := range paths {
		if strings.ContainsRune(d, '\n') || !filepath.IsAbs(d) {
			// Not expressible in the file: delete does it all.
			return nil
		}
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	var b strings.Builder
	for _, d := range dirs {
		b.WriteString(d)
		b.WriteByte('\n')
	}
	return os.WriteFile(filepath.Join(dir, DirectDeleteFile), []byte(b.String()), 0o600)
}
