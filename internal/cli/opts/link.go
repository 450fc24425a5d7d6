package opts

import (
	"errors"
	"fmt"
	"strings"
)

// ValidateLink checks a --link value, NAME or NAME:ALIAS, as docker does;
// the value is sent as given.
func ValidateLink(v string) (string, error) {
	if v == "" {
		return "", errors.New("empty string specified for links")
	}
	if strings.Count(v, ":") > 1 {
		return "", fmt.Errorf("bad format for links: %s", v)
	}
	return v, nil
}
