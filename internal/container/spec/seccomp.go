package spec

import (
	"context"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// withSeccomp applies docker's rules: unconfined means none; a privileged
// container has none unless a profile is given; otherwise the given profile
// or docker's default. Profiles are expanded for this host by
// moby/profiles: architecture, kernel version and the container's bounding
// capabilities select the conditional rules, so it must run after
// withCapabilities.
func (g *generator) withSeccomp(_ context.Context, s *specs.Spec) error {
	p := g.security.seccomp
	if p == seccompUnconfined {
		return nil
	}
	var (
		profile *specs.LinuxSeccomp
		err     error
	)
	switch {
	case g.host.Privileged && (p == "" || p == seccompBuiltin):
		return nil
	case !g.sys.seccomp:
		// docker warns and runs without the default profile; a custom one
		// was refused by validation.
		return nil
	case p == "" || p == seccompBuiltin:
		profile, err = seccomp.GetDefaultProfile(s)
	default:
		profile, err = seccomp.LoadProfile(p, s)
		if err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
		}
	}
	if err != nil {
		return err
	}
	s.Linux.Seccomp = profile
	return nil
}
