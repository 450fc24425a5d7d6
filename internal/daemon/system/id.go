package system

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// engineIDFile holds the daemon's identity in the data root: docker info's
// ID, the same across restarts and different for every data root.
const engineIDFile = "engine-id"

// engineID reads the data root's engine ID, making one (a random UUID)
// the first time. The file is written under a temporary name and linked
// into place, so two daemons racing on one root (which the lock forbids
// anyway) or a crash never leave a half-written ID.
func engineID(root string) (string, error) {
	if root == "" {
		return "", errors.New("engine id: no data root")
	}
	path := filepath.Join(root, engineIDFile)
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				return id, nil
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("engine id: %w", err)
		}
		if err := writeEngineID(root, path); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("engine id: %w", err)
		}
	}
	return "", fmt.Errorf("engine id: %s stays empty", path)
}

func writeEngineID(root, path string) error {
	if err := os.MkdirAll(root, 0o711); err != nil {
		return err
	}
	f, err := os.CreateTemp(root, ".tmp-engine-id-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = fmt.Fprintln(f, newUUID())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// link, unlike rename, never replaces an ID that is already there.
	return os.Link(tmp, path)
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
