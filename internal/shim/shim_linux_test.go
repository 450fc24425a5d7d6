package shim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/logs"
	"github.com/berth-project/berth/internal/shim"
)

func readLog(t *testing.T, path string) []logs.Message {
	t.Helper()
	msgs, errs := logs.Read(context.Background(), logs.JSONFile, path, logs.ReadOptions{Tail: -1})
	var out []logs.Message
	for m := range msgs {
		out = append(out, m)
	}
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

func TestLifecycle(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sh", "-c", "echo out; echo err >&2; exit 3")
			cl := c.create()
			st, err := cl.State(ctx(t))
			if err != nil || st.Status != shim.StatusCreated || st.Pid <= 0 {
				t.Fatalf("state after create: %+v %v", st, err)
			}
			var stdout, stderr syncBuffer
			res := attach(t, cl, shim.AttachOptions{Stdout: &stdout, Stderr: &stderr})
			pid, err := cl.Start(ctx(t))
			if err != nil || pid != st.Pid {
				t.Fatalf("start: pid %d, %v", pid, err)
			}
			exit, err := cl.Wait(ctx(t))
			if err != nil || exit.Code != 3 || exit.ExitedAt.IsZero() || exit.Signal != "" {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if err := <-res; err != nil {
				t.Fatalf("attach: %v", err)
			}
			if stdout.String() != "out\n" || stderr.String() != "err\n" {
				t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
			}
			msgs := readLog(t, c.cfg.LogPath)
			var got []string
			for _, m := range msgs {
				got = append(got, m.Stream+":"+string(m.Line))
			}
			if strings.Join(got, "|") != "stdout:out\n|stderr:err\n" && strings.Join(got, "|") != "stderr:err\n|stdout:out\n" {
				t.Fatalf("log %q", got)
			}
			st, err = cl.State(ctx(t))
			if err != nil || st.Status != shim.StatusStopped || st.Exit == nil || st.Exit.Code != 3 {
				t.Fatalf("state after exit: %+v %v", st, err)
			}
			if rec, ok, err := shim.ReadExit(c.cfg.StateDir); err != nil || !ok || rec.Code != 3 {
				t.Fatalf("ReadExit: %+v %v %v", rec, ok, err)
			}
			if err := cl.Delete(ctx(t)); err != nil {
				t.Fatalf("delete: %v", err)
			}
			c.client = nil
			// The shim is gone; its exit record stays.
			if _, err := cl.State(ctx(t)); !errdefs.IsNotFound(err) {
				t.Fatalf("state after delete: %v", err)
			}
			if _, err := os.Stat(filepath.Join(c.cfg.StateDir, "shim.sock")); !os.IsNotExist(err) {
				t.Fatalf("socket left: %v", err)
			}
			if rec, ok, err := shim.ReadExit(c.cfg.StateDir); err != nil || !ok || rec.Code != 3 || rec.Lost {
				t.Fatalf("ReadExit after delete: %+v %v %v", rec, ok, err)
			}
		})
	}
}

func TestKillExitCodes(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, r, "sleep", "100")
			cl := c.create()
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if err := cl.Kill(ctx(t), syscall.SIGKILL, false); err != nil {
				t.Fatal(err)
			}
			exit, err := cl.Wait(ctx(t))
			if err != nil || exit.Code != 137 || exit.Signal != "SIGKILL" || exit.OOMKilled {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if err := cl.Kill(ctx(t), syscall.SIGKILL, false); !errdefs.IsNotFound(err) {
				t.Fatalf("kill after exit: %v", err)
			}
		})
	}
}
