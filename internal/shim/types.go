package shim

import (
	"io"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit code, 128+n for a process killed by signal n (137
	// for SIGKILL), as docker reports it.
	Code     int       `json:"code"`
	ExitedAt time.Time `json:"exitedAt"`
	// OOMKilled is set when the kernel's OOM killer killed a process of
	// the container's cgroup while it ran.
	OOMKilled bool `json:"oomKilled,omitempty"`
	// Signal names the signal that killed the process ("SIGKILL"), if any.
	Signal string `json:"signal,omitempty"`
	// Lost is set when the shim died before the container: the container
	// was then killed and removed by whoever noticed (Code 137), or it had
	// already ended unobserved (Code 255, docker's "unknown").
	Lost bool `json:"lost,omitempty"`
}

// Container statuses in State.Status.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusPaused  = "paused"
	StatusStopped = "stopped"
)

// State is the container's init as the shim sees it.
type State struct {
	Pid    int         `json:"pid"`
	Status string      `json:"status"`
	Exit   *ExitStatus `json:"exit,omitempty"`
	Execs  []ExecState `json:"execs,omitempty"`
}

// ExecState is one exec'd process known to the shim.
type ExecState struct {
	ID     string      `json:"id"`
	Pid    int         `json:"pid,omitempty"`
	Status string      `json:"status"`
	Exit   *ExitStatus `json:"exit,omitempty"`
}

// AttachOptions connects a caller to a process's stdio.
type AttachOptions struct {
	// ExecID picks an exec'd process; "" is the container's init.
	ExecID string
	// Stdin, if not nil, is copied to the process's stdin (when it has one
	// open: Config.OpenStdin or ExecConfig.OpenStdin). The copy runs in its
	// own goroutine until Stdin returns an error or EOF, which may be after
	// Attach returns: close Stdin to end it.
	Stdin io.Reader
	// Stdout and Stderr receive the output; nil means not wanted. With a
	// terminal there is one stream, and it goes to Stdout.
	Stdout, Stderr io.Writer
	// CloseStdin closes the process's stdin when Stdin ends (EOF, or the
	// attach ending), as docker does for StdinOnce. Without it, or with a
	// terminal, the end of Stdin ends this attach's output instead.
	CloseStdin bool
	// Attached, if not nil, is called once the shim has registered the
	// streams and before any output is copied. A caller that answers an
	// HTTP attach (101 Switching Protocols) does so from here: a start
	// requested after that cannot race the attach.
	Attached func()
}

// ExecConfig describes a process to run in the container.
type ExecConfig struct {
	ID      string
	Process *specs.Process // Process.Terminal asks for a pty
	// OpenStdin gives the process a stdin pipe for attached clients;
	// without it stdin is /dev/null.
	OpenStdin bool
}
