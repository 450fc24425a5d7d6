package runtime

import (
	_ "embed"
	"encoding/json"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/runtime/cgroups"
)

// Prewarm does, ahead of a create, the work that depends on nothing but
// the state root: the write-protected view of this binary, the host's
// cgroup layout, and encoding/json's decoders for the spec's types. All
// are cached for the process, so a runtime process started before its
// command is known (a shim's warm runtime) has them ready when the command
// comes. Errors are left for the create to meet.
func (rt *Runtime) Prewarm() {
	_, _ = cgroups.DetectLayout()
	_, _ = protectedSelf(filepath.Join(rt.root, spareDirName))
	warmSpecDecoding()
}

// warmSpec is a config.json with every section a container engine's
// carries. Only its decoding is wanted: encoding json first would build
// the encoders too, a millisecond of CPU that no create uses.
//
//go:embed warmspec.json
var warmSpec []byte

// warmSpecDecoding decodes warmSpec: encoding/json builds its decoders per
// type on first use, and for a docker-like config.json (its seccomp
// profile alone is some 300 rules) that first decode costs a cold process
// about two milliseconds of the create.
func warmSpecDecoding() {
	var out specs.Spec
	_ = json.Unmarshal(warmSpec, &out)
}
