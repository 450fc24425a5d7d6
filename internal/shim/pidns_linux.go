package shim

import (
	"bytes"
	"os"
	"strconv"
)

// isPidNamespaceInit reports whether pid, a child the shim has not
// reaped, is the first process (pid 1) of a pid namespace other than the
// shim's: its NSpid line in /proc/<pid>/status ends in 1 and has more
// than one field.
func isPidNamespaceInit(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			f := bytes.Fields(rest)
			return len(f) > 1 && string(f[len(f)-1]) == "1"
		}
	}
	return false
}
