package volume

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"

	"github.com/berth-project/berth/internal/errdefs"
)

// nameChars is docker's pattern for local volume names, shown as is in
// its error message.
const nameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

var namePattern = regexp.MustCompile(`^` + nameChars + `+$`)

// maxNameLen is the longest name a directory entry takes.
const maxNameLen = 255

// validateName applies docker's rules for a local volume name. The name
// becomes a directory under the store's root, so the rules are also what
// keeps it there: no '/', and no leading '.', which the store keeps for
// its own temporary entries.
func validateName(name string) error {
	if len(name) == 1 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter,
			"create %s: volume name is too short, names should be at least two alphanumeric characters", name)
	}
	if !namePattern.MatchString(name) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter,
			"create %s: %q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path",
			name, name, nameChars)
	}
	if len(name) > maxNameLen {
		return errdefs.Errorf(errdefs.ErrInvalidParameter,
			"create %s: volume name is too long, names can be at most %d characters", name, maxNameLen)
	}
	return nil
}

// randomName is an anonymous volume's name: 64 hex digits, as docker's.
func randomName() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b[:])
}
