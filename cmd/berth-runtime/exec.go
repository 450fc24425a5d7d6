package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

type execFlags struct {
	consoleSocket  string
	cwd            string
	env            []string
	tty            bool
	user           string
	additionalGids []string
	processPath    string
	detach         bool
	pidFile        string
	processLabel   string
	apparmor       string
	noNewPrivs     bool
	caps           []string
	preserveFDs    int
	ignorePaused   bool
	cgroup         string
}

func newExecCommand(g *globals) *command {
	var f execFlags
	// run reads cmd.flags: which flags the command line set.
	var cmd *command
	cmd = &command{
		usage: "exec [flags] <container-id> [command [args...]]",
		short: "run a new process inside a container",
		args: func(cmd *command, args []string) error {
			if len(args) < 1 {
				return fmt.Errorf("%q requires a container id", cmd.name)
			}
			if f.processPath == "" && len(args) < 2 {
				return fmt.Errorf("%q requires a command, or --process", cmd.name)
			}
			return nil
		},
		run: func(ctx context.Context, args []string) error {
			if f.cgroup != "" {
				return errors.New("--cgroup is not supported")
			}
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			spec, err := c.Spec()
			if err != nil {
				return err
			}
			p, err := f.process(spec, args[1:], &cmd.flags)
			if err != nil {
				return err
			}
			opts := runtime.ExecOpts{
				ConsoleSocket: f.consoleSocket, PidFile: f.pidFile, PreserveFDs: f.preserveFDs,
				IgnorePaused: f.ignorePaused,
			}
			var tty *terminal
			if p.Terminal && f.consoleSocket == "" {
				if f.detach {
					return errors.New("cannot allocate a terminal for a detached process without --console-socket")
				}
				if tty, err = newTerminal(); err != nil {
					return err
				}
				defer tty.close()
				opts.Console = tty.child
			}
			if !f.detach {
				unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
			}
			pid, err := c.Exec(ctx, p, opts)
			if err != nil {
				return err
			}
			if tty != nil {
				if err := tty.attach(); err != nil {
					unix.Kill(pid, unix.SIGKILL)
					return err
				}
			}
			if f.detach {
				return nil
			}
			code, err := forwardAndWait(pid, tty)
			if tty != nil {
				tty.close()
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.stopAtArg = true
	fl := &cmd.flags
	fl.String(&f.consoleSocket, "console-socket", 0, "", "path to a unix socket that receives the pty master")
	fl.String(&f.cwd, "cwd", 0, "", "working directory in the container")
	fl.StringArray(&f.env, "env", 'e', "set an environment variable (NAME=value)")
	fl.Bool(&f.tty, "tty", 't', "allocate a pseudo-terminal")
	fl.String(&f.user, "user", 'u', "", "uid[:gid] to run as")
	fl.StringArray(&f.additionalGids, "additional-gids", 'g', "additional gid")
	fl.String(&f.processPath, "process", 'p', "", "path to a process.json (overrides the other process flags)")
	fl.Bool(&f.detach, "detach", 'd', "detach from the process")
	fl.String(&f.pidFile, "pid-file", 0, "", "file to write the process's pid to")
	fl.String(&f.processLabel, "process-label", 0, "", "SELinux label for the process")
	fl.String(&f.apparmor, "apparmor", 0, "", "AppArmor profile for the process")
	fl.Bool(&f.noNewPrivs, "no-new-privs", 0, "set no_new_privs for the process")
	fl.StringArray(&f.caps, "cap", 'c', "add a capability to the process")
	intVar(fl, &f.preserveFDs, "preserve-fds", 0, "pass this many extra fds (from 3) to the process")
	fl.Bool(&f.ignorePaused, "ignore-paused", 0, "allow exec into a paused container")
	fl.String(&f.cgroup, "cgroup", 0, "", "sub-cgroup to run in (not supported)")
	return cmd
}

// process builds the exec'd process: from --process, or from the
// container's own process with the flags' changes, as runc does.
func (f *execFlags) process(spec *specs.Spec, args []string, flags *flagSet) (*specs.Process, error) {
	if f.processPath != "" {
		data, err := os.ReadFile(f.processPath)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", f.processPath, err)
		}
		return &p, nil
	}
	var p specs.Process
	if spec.Process != nil {
		p = *spec.Process
		p.Env = append([]string(nil), spec.Process.Env...)
		if spec.Process.Capabilities != nil {
			caps := *spec.Process.Capabilities
			p.Capabilities = &caps
		}
	} else {
		p.Cwd = "/"
	}
	p.Args = args
	p.Terminal = f.tty
	p.ConsoleSize = nil
	if f.cwd != "" {
		p.Cwd = f.cwd
	}
	p.Env = append(p.Env, f.env...)
	if f.user != "" {
		uid, gid, hasGid := strings.Cut(f.user, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: uid must be numeric", f.user)
		}
		p.User.UID = uint32(u)
		if hasGid {
			gv, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: gid must be numeric", f.user)
			}
			p.User.GID = uint32(gv)
		}
	}
	for _, g := range f.additionalGids {
		v, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: must be numeric", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(v))
	}
	if flags.Changed("no-new-privs") {
		p.NoNewPrivileges = f.noNewPrivs
	}
	if f.apparmor != "" {
		p.ApparmorProfile = f.apparmor
	}
	if f.processLabel != "" {
		p.SelinuxLabel = f.processLabel
	}
	if len(f.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := p.Capabilities
		for _, name := range f.caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			c.Bounding = append(c.Bounding, name)
			c.Effective = append(c.Effective, name)
			c.Permitted = append(c.Permitted, name)
			c.Inheritable = append(c.Inheritable, name)
			c.Ambient = append(c.Ambient, name)
		}
	}
	return &p, nil
}
