package spec

import (
	"context"
	"strings"

	"github.com/berth-project/berth/internal/initenv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPathEnv is the PATH a container gets unless its image or the user
// sets one.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// withProcess fills args, environment, working directory, terminal, rlimits
// and the OOM score, as dockerd does.
func (g *generator) withProcess(_ context.Context, s *specs.Spec) error {
	p := s.Process
	p.Args = append([]string(nil), g.args...)
	p.Env = g.env()
	p.Cwd = g.cfg.WorkingDir
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	p.Terminal = g.cfg.Tty
	if p.Terminal && (g.host.ConsoleSize[0] > 0 || g.host.ConsoleSize[1] > 0) {
		p.ConsoleSize = &specs.Box{Height: g.host.ConsoleSize[0], Width: g.host.ConsoleSize[1]}
	}
	p.Rlimits = g.ulimits
	oom := g.host.OomScoreAdj
	p.OOMScoreAdj = &oom
	p.NoNewPrivileges = g.security.noNewPrivileges
	if g.host.Umask != nil {
		u := *g.host.Umask
		p.User.Umask = &u
	}
	s.Root.Path = g.in.Rootfs
	s.Root.Readonly = g.host.ReadonlyRootfs
	return nil
}

// env is docker's container environment: PATH, HOSTNAME and (with a tty)
// TERM=xterm first, then the merged config's entries replacing those by
// name or being appended; an entry without "=" removes a default.
func (g *generator) env() []string {
	env := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + g.cfg.Hostname}
	if g.cfg.Tty {
		env = append(env, "TERM=xterm")
	}
	index := map[string]int{}
	for i, e := range env {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	removed := map[int]bool{}
	for _, e := range g.cfg.Env {
		k, _, hasValue := strings.Cut(e, "=")
		i, exists := index[k]
		switch {
		case !hasValue && exists:
			removed[i] = true
		case !hasValue:
		case exists:
			env[i] = e
			delete(removed, i)
		default:
			// Like docker, only the defaults are replaced by name: later
			// entries are appended as they come.
			env = append(env, e)
		}
	}
	out := env[:0]
	for i, e := range env {
		if !removed[i] {
			out = append(out, e)
		}
	}
	return out
}

// withInit puts berth-init in front of the command when --init is asked
// for and the container has its own pid namespace (elsewhere there already
// is an init, as docker reasons).
func (g *generator) withInit(_ context.Context, s *specs.Spec) error {
	if !g.wantsInit() {
		return nil
	}
	s.Process.Args = append([]string{InitPathInContainer, "--"}, s.Process.Args...)
	// The init gives the command back the user's GOMAXPROCS.
	s.Process.Env = initenv.ForInit(s.Process.Env)
	s.Mounts = append(s.Mounts, specs.Mount{
		Destination: InitPathInContainer,
		Type:        "bind",
		Source:      g.in.InitPath,
		Options:     []string{"bind", "ro"},
	})
	return nil
}

func (g *generator) wantsInit() bool {
	return g.host.Init != nil && *g.host.Init && g.host.PidMode.IsPrivate()
}
