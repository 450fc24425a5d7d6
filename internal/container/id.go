package container

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
)

// IDLength is the length of a container ID: 32 random bytes in hex, as
// docker's.
const IDLength = 64

// ShortIDLength is how many characters of an ID docker shows.
const ShortIDLength = 12

// NewID returns a fresh random container ID. As docker does, it never
// returns one whose short form is all digits, since the CLI would take
// such a short ID for a number in some places (a --format, a filter).
func NewID() string {
	var b [32]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes instead)
		id := hex.EncodeToString(b[:])
		if _, err := strconv.ParseUint(id[:ShortIDLength], 10, 64); err == nil {
			continue
		}
		return id
	}
}

// ShortID is id's first 12 characters (all of it when shorter).
func ShortID(id string) string {
	if len(id) > ShortIDLength {
		return id[:ShortIDLength]
	}
	return id
}

// isID reports whether s has the shape of a full container ID.
func isID(s string) bool {
	if len(s) != IDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
