package config

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// ResolveRuntimes finds every runtime's binary: berth-runtime beside the
// daemon's own executable (selfDir) or in $PATH, runc and crun in $PATH
// (left out when absent), and the added ones as given (a bare name is
// looked up in $PATH). The default runtime must resolve.
func (c *Config) ResolveRuntimes(selfDir string) (map[string]Runtime, error) {
	out := map[string]Runtime{}
	if p, err := lookBeside(selfDir, "berth-runtime"); err == nil {
		out[RuntimeBerth] = Runtime{Path: p}
	}
	for _, name := range []string{RuntimeRunc, RuntimeCrun} {
		if p, err := exec.LookPath(name); err == nil {
			out[name] = Runtime{Path: p}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Runtimes)) {
		r := c.Runtimes[name]
		p := r.Path
		if !filepath.IsAbs(p) {
			lp, err := exec.LookPath(p)
			if err != nil {
				return nil, fmt.Errorf("runtime %q: %w", name, err)
			}
			p = lp
		}
		out[name] = Runtime{Path: p, Args: slices.Clone(r.Args)}
	}
	if _, ok := out[c.DefaultRuntime]; !ok {
		return nil, fmt.Errorf("default runtime %q: binary not found", c.DefaultRuntime)
	}
	return out, nil
}

// lookBeside prefers a binary in dir (the one installed with the daemon)
// over $PATH.
func lookBeside(dir, name string) (string, error) {
	if dir != "" {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath(name)
}
