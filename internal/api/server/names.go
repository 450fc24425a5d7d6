package server

import (
	"regexp"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// Docker's container name rule, and its words when a name breaks it.
const validContainerNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

var validContainerName = regexp.MustCompile(`^/?` + validContainerNameChars + `+$`)

// validateContainerName checks a name given to create or rename.
func validateContainerName(name string) error {
	if !validContainerName.MatchString(name) {
		return invalidf("Invalid container name (%s), only %s are allowed", name, validContainerNameChars)
	}
	return nil
}

// containerRef matches what can name an existing container: a name (with
// or without its "/"), an ID or an ID prefix of one character or more.
var containerRef = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkContainerRef refuses, as "No such container", a path parameter
// that cannot name a container ("../..", a NUL, a slash inside), so odd
// strings never reach the engine's lookups.
func checkContainerRef(ref string) error {
	if !containerRef.MatchString(ref) {
		return errdefs.Errorf(errdefs.ErrNotFound, "No such container: %s", ref)
	}
	return nil
}

// checkExecRef does the same for exec IDs.
func checkExecRef(ref string) error {
	if !containerRef.MatchString(ref) || strings.HasPrefix(ref, "/") {
		return errdefs.Errorf(errdefs.ErrNotFound, "No such exec instance: %s", ref)
	}
	return nil
}
