package nettest

import (
	"crypto/rand"
	"errors"
	"testing"
)

// prefixLen is the length of a resource prefix from Prefix: berthd's
// network package takes at most 6 characters, so that "<prefix>-<8 hex
// digits of the network id>" fits a link name's 15.
const prefixLen = 6

// Prefix returns a resource prefix for a daemon of t: "n" and five
// characters of [a-z0-9] (60 million names), reserved on the host like
// Subnet's subnets so two live test processes never share one, and
// released when t ends.
func Prefix(t testing.TB) string {
	t.Helper()
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	subnetMu.Lock()
	defer subnetMu.Unlock()
	for range 100 {
		var b [prefixLen - 1]byte
		_, _ = rand.Read(b[:])
		p := []byte{'n'}
		for _, c := range b {
			p = append(p, alphabet[int(c)%len(alphabet)])
		}
		name := string(p)
		ok, err := lockName("prefix-" + name)
		if err != nil {
			t.Fatalf("nettest: Prefix: %v", err)
		}
		if ok {
			t.Cleanup(func() { unlockName("prefix-" + name) })
			return name
		}
	}
	t.Fatalf("nettest: Prefix: %v", errors.New("no free prefix after 100 tries"))
	return ""
}
