package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookState is the state document hooks read on stdin.
func hookState(annotations map[string]string, id, bundle string, pid int, status specs.ContainerState) []byte {
	st := specs.State{
		Version:     specs.Version,
		ID:          id,
		Status:      status,
		Pid:         pid,
		Bundle:      bundle,
		Annotations: annotations,
	}
	data, _ := json.Marshal(st)
	return data
}

// prestartHooks returns the deprecated prestart hooks, which a runtime
// must still run (during create, with createRuntime).
func prestartHooks(h *specs.Hooks) []specs.Hook {
	if h == nil {
		return nil
	}
	//lint:ignore SA1019 the spec deprecates prestart but still requires runtimes to run it
	return h.Prestart
}

// runHooks runs hooks in order and stops at the first failure. Each gets
// the state on stdin and its own timeout; its output is kept for the error.
func runHooks(ctx context.Context, kind string, hooks []specs.Hook, state []byte) error {
	for i, h := range hooks {
		if err := runHook(ctx, h, state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

func runHook(ctx context.Context, h specs.Hook, state []byte) error {
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.Command(h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Its own process group, so a timeout kills what the hook started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return hookError(err, &out)
		}
		return nil
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("timed out after %ds", *h.Timeout)
		}
		return ctx.Err()
	}
}

func hookError(err error, out *bytes.Buffer) error {
	msg := strings.TrimSpace(out.String())
	if len(msg) > 4096 {
		msg = msg[:4096] + "…"
	}
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}
