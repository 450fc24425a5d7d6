package initproc

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty returns a new pseudo-terminal's master and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestTerminalForeground: with a terminal, the command's process group
// gets the foreground, so ^C typed on the terminal interrupts the command
// (and the init reports 128+SIGINT), as without an init.
func TestTerminalForeground(t *testing.T) {
	t.Parallel()
	master, slave := openPty(t)
	// cat's /proc/self/stat (host numbering, as /proc is the host's) tells
	// its process group, its session and the terminal's foreground group.
	script := `s=$(cat /proc/self/stat); s=${s##*") "}; set -- $s; echo "ready pgrp=$3 sid=$4 tpgid=$6"; exec sleep 30`
	cmd := initCommand(t, true, "--", "/bin/sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// The init is a session leader with the terminal as its own, as a
	// runtime sets a container up with process.terminal.
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	slave.Close()
	r := bufio.NewReader(master)
	deadline := time.Now().Add(10 * time.Second)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the terminal: %v", err)
		}
		if f := strings.Fields(line); len(f) == 4 && f[0] == "ready" {
			pgrp, sid, tpgid := f[1][len("pgrp="):], f[2][len("sid="):], f[3][len("tpgid="):]
			if pgrp != tpgid || pgrp == sid {
				t.Errorf("command's group %s, session %s, terminal's foreground group %s: want the command's own group in the foreground", pgrp, sid, tpgid)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready line")
		}
	}
	// exec sleep may still be under way; give it a moment so ^C meets sleep.
	time.Sleep(100 * time.Millisecond)
	if _, err := master.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if got := exitCode(t, err); got != 128+int(syscall.SIGINT) {
			t.Errorf("exit code %d, want %d", got, 128+int(syscall.SIGINT))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("^C did not end the command")
	}
}
