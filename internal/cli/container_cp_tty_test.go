package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// TestCopyProgressOnTerminal: with a terminal on stdout, cp ends with
// docker's "Successfully copied SIZE to DEST" line on stderr (the size of
// the tar sent); the progress itself shows only when stderr is a terminal
// too. Without a terminal, nothing (the parity tests run without).
func TestCopyProgressOnTerminal(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	e := newEngine(t)
	top := t.TempDir()
	file := filepath.Join(top, "file")
	if err := os.WriteFile(file, bytes.Repeat([]byte("x"), 1500), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d", "b"} {
		if r := e.docker("", "create", "--name", p+"-box", "busybox"); r.code != 0 {
			t.Fatalf("create: %+v", r)
		}
	}
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("a pseudo-terminal is needed: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	go func() { _, _ = io.Copy(io.Discard, master) }()

	docker := func(args ...string) string {
		cmd := exec.Command(dockerCLI, append([]string{"-H", e.host}, args...)...)
		home := t.TempDir()
		cmd.Env = []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"), "PATH=/usr/bin:/bin"}
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = tty, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("docker %v: %v %s", args, err, errb.String())
		}
		return errb.String()
	}
	berth := func(args ...string) string {
		var errb bytes.Buffer
		code := Main(context.Background(), Streams{In: strings.NewReader(""), Out: tty, Err: &errb},
			append([]string{"-H", e.host}, args...), WithGetenv(func(string) string { return "" }))
		if code != 0 {
			t.Fatalf("berth %v: %d %s", args, code, errb.String())
		}
		return errb.String()
	}
	for _, c := range [][]string{
		{"cp", file, "@-box:/tmp"},
		{"cp", "@-box:/tmp/file", filepath.Join(top, "@-out")},
	} {
		side := func(p string) []string {
			out := make([]string, len(c))
			for i, a := range c {
				out[i] = strings.ReplaceAll(a, "@", p)
			}
			return out
		}
		d, b := docker(side("d")...), berth(side("b")...)
		if d == "" || strings.ReplaceAll(d, "d-", "X-") != strings.ReplaceAll(b, "b-", "X-") {
			t.Errorf("%v: docker says %q, berth %q", c, d, b)
		}
	}
}

// TestExportRefusesTerminal: export (without -o) never writes a tar onto a
// terminal, as docker; with -o it does not care.
func TestExportRefusesTerminal(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if r := e.berth("", "create", "--name", "box", "busybox"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("a pseudo-terminal is needed: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	go func() { _, _ = io.Copy(io.Discard, master) }()
	var errb bytes.Buffer
	code := Main(context.Background(), Streams{In: strings.NewReader(""), Out: tty, Err: &errb},
		[]string{"-H", e.host, "export", "box"}, WithGetenv(func(string) string { return "" }))
	if code != 1 || errb.String() != "cowardly refusing to save to a terminal. Use the -o flag or redirect\n" {
		t.Errorf("export to a terminal: exit %d, %q", code, errb.String())
	}
	out := filepath.Join(t.TempDir(), "box.tar")
	errb.Reset()
	code = Main(context.Background(), Streams{In: strings.NewReader(""), Out: tty, Err: &errb},
		[]string{"-H", e.host, "export", "-o", out, "box"}, WithGetenv(func(string) string { return "" }))
	if fi, err := os.Stat(out); code != 0 || err != nil || fi.Size() == 0 {
		t.Errorf("export -o with a terminal: exit %d, %q, %v", code, errb.String(), err)
	}
}
