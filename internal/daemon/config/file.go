package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// maxFileSize bounds daemon.json: it is a handful of settings.
const maxFileSize = 1 << 20

// ignoredKeys are dockerd settings a daemon.json written for docker may
// carry and that Berth has no use for (yet): they are accepted with a
// warning, so one file can serve both daemons.
var ignoredKeys = []string{
	"api-cors-header", "authorization-plugins", "builder", "containerd", "containerd-namespace",
	"containerd-plugins-namespace", "debug", "default-cgroupns-mode",
	"default-ipc-mode", "default-shm-size", "exec-opts",
	"experimental", "features", "fixed-cidr", "fixed-cidr-v6", "icc", "init", "init-path",
	"ip", "ip-masq", "ip6tables", "ipv6", "labels",
	"max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts", "metrics-addr",
	"no-new-privileges", "oom-score-adjust", "seccomp-profile", "selinux-enabled",
	"storage-opts", "userland-proxy-path", "userns-remap",
}

// File is what a daemon.json set: the config with the file's settings
// applied over a base, and the keys the file named.
type File struct {
	Path     string
	Keys     []string
	Warnings []string
}

// Load reads daemon.json at path over Default(). A missing file is an
// error (the caller decides whether the default path may be absent).
func Load(path string) (Config, error) {
	c := Default()
	_, err := apply(&c, path)
	return c, err
}

// apply reads path and sets on c what it names. Unknown keys are an
// error (a typo must not be silently ignored), docker's keys Berth does
// not use are warnings.
func apply(c *Config, path string) (File, error) {
	f := File{Path: path}
	b, err := readLimited(path)
	if err != nil {
		return f, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return f, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to configure the daemon with file %s: %v", path, err)
	}
	known := map[string]bool{}
	for _, k := range jsonKeys() {
		known[k] = true
	}
	var unknown []string
	debugOn := false
	for k, v := range raw {
		switch {
		case known[k]:
			f.Keys = append(f.Keys, k)
		case k == "debug":
			var debug bool
			if err := json.Unmarshal(v, &debug); err != nil {
				return f, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to configure the daemon with file %s: debug: %v", path, err)
			}
			debugOn = debug && raw["log-level"] == nil
		case slices.Contains(ignoredKeys, k):
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s: %q is a dockerd setting Berth ignores", path, k))
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return f, errdefs.Errorf(errdefs.ErrInvalidParameter,
			"the following directives don't match any configuration option: %s", strings.Join(unknown, ", "))
	}
	slices.Sort(f.Keys)
	// Decode onto a copy, so maps and lists the file sets replace the
	// defaults rather than merge into them.
	fromFile := Config{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&fromFile); err != nil {
		return f, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to configure the daemon with file %s: %v", path, err)
	}
	for _, k := range f.Keys {
		if setter, ok := fieldCopiers[k]; ok {
			setter(c, &fromFile)
		}
	}
	if debugOn {
		c.LogLevel = "debug"
	}
	return f, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.Errorf(errdefs.ErrNotFound, "unable to configure the daemon with file %s: %v", path, err)
		}
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "%s: larger than %d bytes", path, maxFileSize)
	}
	return b, nil
}
