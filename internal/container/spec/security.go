package spec

import (
	"context"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// securityOptions is HostConfig.SecurityOpt parsed.
type securityOptions struct {
	// seccomp is "" (the default profile), "unconfined", "builtin" (the
	// default too) or a profile's JSON: the docker CLI reads the file named
	// by --security-opt seccomp=FILE and sends its content.
	seccomp         string
	apparmor        string
	noNewPrivileges bool
	// writableCgroups overrides the default (writable only when privileged).
	writableCgroups *bool
	labels          []string
}

const (
	seccompUnconfined = "unconfined"
	seccompBuiltin    = "builtin"
)

// parseSecurityOpts reads --security-opt values with docker's rules and
// error texts: "key=value" (or the deprecated "key:value"), and the bare
// words no-new-privileges, writable-cgroups and disable.
func parseSecurityOpts(opts []string) (securityOptions, error) {
	var so securityOptions
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			so.noNewPrivileges = true
			continue
		case "writable-cgroups":
			t := true
			so.writableCgroups = &t
			continue
		case "disable":
			so.labels = append(so.labels, "disable")
			continue
		}
		var k, v string
		var ok bool
		if strings.Contains(opt, "=") {
			k, v, ok = strings.Cut(opt, "=")
		} else if strings.Contains(opt, ":") {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return so, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label":
			so.labels = append(so.labels, v)
		case "apparmor":
			so.apparmor = v
		case "seccomp":
			so.seccomp = v
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --security-opt 2: %q", opt)
			}
			so.noNewPrivileges = b
		case "writable-cgroups":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --security-opt 2: %q", opt)
			}
			so.writableCgroups = &b
		default:
			return so, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid --security-opt 2: %q", opt)
		}
	}
	return so, nil
}

// checkSecurityOpts parses the options and rejects what this host cannot
// honour.
func (g *generator) checkSecurityOpts() error {
	so, err := parseSecurityOpts(g.host.SecurityOpt)
	if err != nil {
		return err
	}
	g.security = so
	if !g.sys.seccomp && so.seccomp != "" && so.seccomp != seccompUnconfined && so.seccomp != seccompBuiltin {
		return errdefs.Errorf(errdefs.ErrInvalidParameter, "seccomp is not enabled in your kernel, cannot run a custom seccomp profile")
	}
	if so.seccomp != "" && so.seccomp != seccompUnconfined && so.seccomp != seccompBuiltin {
		return checkSeccompProfile(so.seccomp)
	}
	return nil
}

// withLSM sets the AppArmor profile. On a host without AppArmor every
// profile is ignored, as docker does. With AppArmor, Berth does not load a
// profile of its own (docker's "docker-default" needs apparmor_parser), so
// only a profile the user names is applied.
func (g *generator) withLSM(_ context.Context, s *specs.Spec) error {
	if !g.sys.apparmor {
		return nil
	}
	switch p := g.security.apparmor; {
	case p != "":
		s.Process.ApparmorProfile = p
	case g.host.Privileged:
		s.Process.ApparmorProfile = "unconfined"
	}
	// SELinux labels (label=...) are not applied: Berth runs where SELinux
	// is off, and go-selinux ignores labels there too.
	return nil
}
