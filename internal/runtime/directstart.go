package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A created container's init waits for start on <root>/<id>/start.sock.
// `berth-runtime start` connects, unlinks the socket (the container is
// no longer "created" from then on), sends one frame, StartFrame, and
// reads until EOF: EOF means the init exec'd the container's process (the
// connection is close-on-exec) or died first, and either way start's job
// is done; a frame {"type":"error","error":MSG} means the init could not
// start the process. All of it happens under the container's lock
// (<root>/<id>/lock, flock LOCK_EX).
//
// That is all `start` does for most containers, and a supervisor (the
// shim) can do it without paying for a process start of this binary: the
// file DirectStartFile beside the socket says it may. Create writes it
// only when the start needs nothing else from the runtime: no poststart
// hooks to run afterwards, no seccomp notify listener to pass on (the
// init would send it over the connection). Anything else keeps using
// `berth-runtime start`. The names, the frame and the replies are part of
// the runtime's contract with the shim: change them only with a new file
// name.
const (
	// DirectStartFile marks a container whose start is only the
	// handshake above.
	DirectStartFile = "start.direct"
	// StartSocket is the init's start socket, beside DirectStartFile.
	StartSocket = startSock
	// LockFile is the container's lock, beside DirectStartFile.
	LockFile = lockFile
)

// StartFrame is the frame start sends: writeFrame(&syncMsg{Type: msgStart}),
// a little-endian length and the JSON message. A test keeps the two equal.
var StartFrame = []byte("\x10\x00\x00\x00" + `{"type":"start"}`)

// directStartAllowed tells whether the container's start is only the
// handshake: nothing for the runtime to do once the process runs.
func directStartAllowed(spec *specs.Spec) bool {
	if spec.Process == nil {
		// start reports the missing process; let it.
		return false
	}
	if spec.Hooks != nil && len(spec.Hooks.Poststart) > 0 {
		return false
	}
	if spec.Linux != nil && spec.Linux.Seccomp != nil && usesNotify(spec.Linux.Seccomp) {
		return false
	}
	return true
}

// usesNotify reports whether a seccomp profile has a notify action, whose
// listener the init hands to whoever started it.
func usesNotify(sc *specs.LinuxSeccomp) bool {
	if sc.DefaultAction == specs.ActNotify || sc.ListenerPath != "" {
		return true
	}
	for _, s := range sc.Syscalls {
		if s.Action == specs.ActNotify {
			return true
		}
	}
	return false
}
