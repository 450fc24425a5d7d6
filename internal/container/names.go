package container

import (
	"math/rand/v2"
	"regexp"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// validName is docker's rule for container names: a letter or digit, then
// at least one more of letters, digits, "_", "." and "-".
var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// NormalizeName checks a user-given name and returns it with its leading
// "/" (the form the store keeps and docker shows in inspect).
func NormalizeName(name string) (string, error) {
	if !validName.MatchString(name) {
		return "", errdefs.Errorf(errdefs.ErrInvalidParameter,
			"Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name, nil
}

// RandomName returns "adjective_scientist"; attempt > 0 appends a digit,
// as docker does once the plain names it tried were taken.
func RandomName(attempt int) string {
	name := adjectives[rand.IntN(len(adjectives))] + "_" + scientists[rand.IntN(len(scientists))]
	if attempt > 0 {
		name += string(rune('0' + rand.IntN(10)))
	}
	return name
}
