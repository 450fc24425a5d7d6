package firewall

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// setSysctl writes value to /proc/sys/<key> unless it already holds it
// (a write to a sysctl is not free: some trigger work in the kernel).
func setSysctl(key, value string) error {
	path := filepath.Join("/proc/sys", key)
	cur, err := os.ReadFile(path)
	if err == nil && string(bytes.TrimSpace(cur)) == value {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("firewall: sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

func enableIPForward() error { return setSysctl("net/ipv4/ip_forward", "1") }

// enableRouteLocalnet lets the host route packets with a 127/8 source out
// of bridge, and accept answers to them: hairpin through 127.0.0.1. The
// network package sets it when it creates the bridge; doing it here too
// keeps Sync self-sufficient. A bridge that does not exist yet is not an
// error: the network package sets it when it creates one.
func enableRouteLocalnet(bridge string) error {
	err := setSysctl(filepath.Join("net/ipv4/conf", bridge, "route_localnet"), "1")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
