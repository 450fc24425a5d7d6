package main

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime"
)

// warmFD is the unix socket a warm runtime receives its command on.
const warmFD = 3

// maxWarmMessage bounds the command's JSON (an argv).
const maxWarmMessage = 64 << 10

// warmCommand serves `berth-runtime warm ROOT`: a runtime process started
// before its command is known, by a shim waiting for its container. It
// prepares what depends only on the state root (runtime.Prewarm) while it
// waits, then receives one message on fd 3: the command's full argv as
// JSON, with three descriptors that become its stdin, stdout and stderr.
// It returns that argv, which main then runs as if the process had been
// started with it. A shim that hangs up instead (its daemon gave up the
// pool) ends the process.
func warmCommand(args []string) []string {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: berth-runtime warm ROOT (a shim runs it)")
		os.Exit(2)
	}
	unix.CloseOnExec(warmFD)
	if rt, err := runtime.New(args[2], nil); err == nil {
		go rt.Prewarm()
	}
	argv, err := receiveCommand(warmFD)
	unix.Close(warmFD)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-runtime warm: %v\n", err)
		os.Exit(2)
	}
	if argv == nil {
		os.Exit(0)
	}
	return argv
}

// receiveCommand reads the argv and installs the stdio it came with; a
// nil argv means the sender hung up.
func receiveCommand(fd int) ([]string, error) {
	buf := make([]byte, maxWarmMessage)
	oob := make([]byte, unix.CmsgSpace(3*4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("receive command: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, nil
	}
	var fds []int
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive command: %w", err)
	}
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, fmt.Errorf("receive command: %w", err)
		}
		fds = append(fds, got...)
	}
	defer func() {
		for _, f := range fds {
			unix.Close(f)
		}
	}()
	var argv []string
	if err := json.Unmarshal(buf[:n], &argv); err != nil || len(argv) < 2 {
		return nil, fmt.Errorf("bad command %q", buf[:min(n, 200)])
	}
	if len(fds) != 3 {
		return nil, fmt.Errorf("command came with %d descriptors, not 3", len(fds))
	}
	for i, f := range fds {
		if err := unix.Dup3(f, i, 0); err != nil {
			return nil, fmt.Errorf("install stdio: %w", err)
		}
	}
	return argv, nil
}
