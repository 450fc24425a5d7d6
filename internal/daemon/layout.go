package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LayoutVersion is the on-disk layout this berthd writes. Bump it with a
// migration in migrations whenever what lives under the data root changes
// shape; each migration takes the layout from version i to i+1.
const LayoutVersion = 1

// versionFile holds the layout version under the data root.
const versionFile = "version"

// migration upgrades a data root by one version. It must be idempotent: a
// crash during it leaves the old version in the file, and it runs again.
type migration struct {
	name string
	fn   func(ctx context.Context, root string, log *slog.Logger) error
}

// migrations[i] takes the layout from version i to i+1. Version 0 is a
// data root written before the layout had a version: the image side of
// issue 3 (content/, snapshots/, images/), which version 1 keeps as it is
// and completes with containers/.
var migrations = []migration{
	{"version 0 -> 1: add containers/", migrateV0},
}

func migrateV0(_ context.Context, root string, _ *slog.Logger) error {
	return os.MkdirAll(filepath.Join(root, "containers"), 0o710)
}

// migrateLayout brings the data root to LayoutVersion. An empty root is
// simply stamped; one with data and no version file is version 0; one
// from a newer berthd is refused (it could hold what this one would
// destroy).
func migrateLayout(ctx context.Context, root string, log *slog.Logger) error {
	return migrateLayoutWith(ctx, root, log, migrations)
}

func migrateLayoutWith(ctx context.Context, root string, log *slog.Logger, chain []migration) error {
	target := len(chain)
	cur, fresh, err := readLayoutVersion(root)
	if err != nil {
		return err
	}
	if fresh {
		return writeLayoutVersion(root, target)
	}
	if cur > target {
		return fmt.Errorf("data root %s has layout version %d, newer than this berthd's %d: use a newer berthd", root, cur, target)
	}
	for v := cur; v < target; v++ {
		m := chain[v]
		log.Info("migrating the data root's layout", "root", root, "step", m.name)
		if err := m.fn(ctx, root, log); err != nil {
			return fmt.Errorf("layout migration %q: %w", m.name, err)
		}
		if err := writeLayoutVersion(root, v+1); err != nil {
			return err
		}
	}
	return nil
}

// readLayoutVersion is the root's version: the file's number, or 0 for
// data without the file; fresh is a root holding nothing yet.
func readLayoutVersion(root string) (v int, fresh bool, err error) {
	b, err := os.ReadFile(filepath.Join(root, versionFile))
	if errors.Is(err, fs.ErrNotExist) {
		entries, err := os.ReadDir(root)
		if err != nil {
			return 0, false, err
		}
		for _, e := range entries {
			if e.Name() != lockFile && e.Name() != versionFile+".tmp" {
				return 0, false, nil
			}
		}
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	v, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v < 0 {
		return 0, false, fmt.Errorf("%s: not a layout version: %q", filepath.Join(root, versionFile), b)
	}
	return v, false, nil
}

func writeLayoutVersion(root string, v int) error {
	path := filepath.Join(root, versionFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strconv.Itoa(v) + "\n"); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
