package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func newKillCommand(g *globals) *command {
	var all bool
	cmd := &command{
		usage: "kill [--all] <container-id> [signal]",
		short: "send a signal (default SIGTERM) to a container's init",
		args: func(cmd *command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("%q requires 1 or 2 arguments", cmd.name)
			}
			return nil
		},
		run: func(ctx context.Context, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = parseSignal(args[1]); err != nil {
					return err
				}
			}
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return c.Kill(sig, all)
		},
	}
	cmd.flags.Bool(&all, "all", 'a', "signal every process of the container")
	return cmd
}

// parseSignal accepts "KILL", "SIGKILL", "kill" and "9".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d out of range", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && 34+n <= 64 {
			return unix.Signal(34 + n), nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
