package spec

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// validate runs every check before anything is built; each check is a small
// function that may also keep what it parsed for the build steps.
func (g *generator) validate() error {
	checks := []struct {
		name string
		fn   func() error
	}{
		{"rootfs", g.checkRootfs},
		{"command", g.checkCommand},
		{"env", g.checkEnv},
		{"working dir", g.checkWorkingDir},
		{"namespace modes", g.checkNamespaceModes},
		{"security options", g.checkSecurityOpts},
		{"capabilities", g.checkCapabilities},
		{"memory", g.checkMemory},
		{"cpu", g.checkCPU},
		{"blkio", g.checkBlkio},
		{"tmpfs", g.checkTmpfs},
		{"binds", g.checkBinds},
		{"ulimits", g.checkUlimits},
		{"sysctls", g.checkSysctls},
		{"devices", g.checkDevices},
		{"init", g.checkInit},
		{"user", g.checkUser},
	}
	for _, c := range checks {
		if err := c.fn(); err != nil {
			return err
		}
	}
	return nil
}

// CheckSettings applies at create the checks dockerd makes there: the
// working directory, capabilities, tmpfs destinations, and the memory,
// CPU and block I/O weight limits. A create they refuse leaves no
// container behind, as with docker, where a failed start would leave one
// created. Generate checks them again at start, with what docker too
// leaves to the start (the user, devices, binds). host has its defaults
// (FillHostDefaults) already; neither config is changed.
func CheckSettings(cfg *container.Config, host *container.HostConfig) error {
	g := &generator{sys: probeHost()}
	if cfg != nil {
		g.cfg = cloneConfig(*cfg)
	}
	if host != nil {
		g.host = *host
	}
	for _, check := range []func() error{
		g.checkWorkingDir, g.checkCapabilities, g.checkTmpfs, g.checkMemory, g.checkCPU, g.checkBlkioWeights,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) checkRootfs() error {
	if !path.IsAbs(g.in.Rootfs) {
		return fmt.Errorf("spec: rootfs %q is not an absolute path", g.in.Rootfs)
	}
	if g.in.ID == "" {
		return fmt.Errorf("spec: no container id")
	}
	return nil
}

// checkCommand: after merging with the image there must be something to
// run (docker's create refuses the container otherwise).
func (g *generator) checkCommand() error {
	ep := g.cfg.Entrypoint
	if len(ep) == 1 && ep[0] == "" {
		ep = nil
	}
	g.args = entrypointAndArgs(ep, g.cfg.Cmd)
	if len(g.args) == 0 {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "no command specified")
	}
	return nil
}

// checkEnv refuses empty names ("", "=foo"), as docker's ValidateEnv does.
func (g *generator) checkEnv() error {
	for _, e := range g.cfg.Env {
		name, _, _ := strings.Cut(e, "=")
		if strings.TrimSpace(name) == "" {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid environment variable: %s", e)
		}
		if strings.ContainsRune(e, 0) {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid environment variable: %q", e)
		}
	}
	return nil
}

func (g *generator) checkWorkingDir() error {
	wd := g.cfg.WorkingDir
	if wd == "" {
		return nil
	}
	if !path.IsAbs(wd) {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "the working directory '%s' is invalid, it needs to be an absolute path", wd)
	}
	g.cfg.WorkingDir = path.Clean(wd)
	return nil
}

// checkInit: --init needs the binary.
func (g *generator) checkInit() error {
	if g.wantsInit() && g.in.InitPath == "" {
		return fmt.Errorf("spec: --init asked for but the daemon has no init binary")
	}
	return nil
}

// checkSeccompProfile makes sure a custom profile decodes, so a bad file is
// the user's error at create time.
func checkSeccompProfile(profile string) error {
	var p seccomp.Seccomp
	if err := json.Unmarshal([]byte(profile), &p); err != nil {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "Decoding seccomp profile failed: %v", err)
	}
	return nil
}

// rlimitNames are the names docker's --ulimit takes.
var rlimitNames = map[string]bool{
	"as": true, "core": true, "cpu": true, "data": true, "fsize": true,
	"locks": true, "memlock": true, "msgqueue": true, "nice": true,
	"nofile": true, "nproc": true, "rss": true, "rtprio": true,
	"rttime": true, "sigpending": true, "stack": true,
}

// checkUlimits merges the container's ulimits with the daemon's defaults
// (the container's win by name) and checks them. Limits above what the
// daemon itself may raise to are passed on: the runtime reports them.
func (g *generator) checkUlimits() error {
	seen := map[string]bool{}
	var out []specs.POSIXRlimit
	add := func(name string, soft, hard int64) error {
		if !rlimitNames[name] {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid ulimit type: %s", name)
		}
		if soft > hard && hard != -1 {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
		}
		seen[name] = true
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: uint64(soft), Hard: uint64(hard)})
		return nil
	}
	for _, u := range g.host.Ulimits {
		if u == nil {
			continue
		}
		if err := add(u.Name, u.Soft, u.Hard); err != nil {
			return err
		}
	}
	for _, u := range g.in.DefaultUlimits {
		if seen[u.Name] {
			continue
		}
		if err := add(u.Name, u.Soft, u.Hard); err != nil {
			return err
		}
	}
	g.ulimits = out
	return nil
}
