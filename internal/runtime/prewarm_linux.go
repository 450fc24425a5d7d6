package runtime

import (
	"path/filepath"

	"github.com/berth-project/berth/internal/runtime/cgroups"
)

// Prewarm does, ahead of a create, the work that depends on nothing but
// the state root: the write-protected view of this binary and the host's
// cgroup layout. Both are cached for the process, so a runtime process
// started before its command is known (a shim's warm runtime) has them
// ready when the command comes. Errors are left for the create to meet.
func (rt *Runtime) Prewarm() {
	_, _ = cgroups.DetectLayout()
	_, _ = protectedSelf(filepath.Join(rt.root, spareDirName))
}
