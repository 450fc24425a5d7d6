package runtime

import (
	"errors"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// envAwaitsStart, set to 1 in an init's environment, says it will wait
// for a start command (a create without StartNow, or a spare init).
const envAwaitsStart = "_BERTH_INIT_AWAITS_START"

// terminatingSignals end a created container as they would its process: a
// created init is its pid namespace's init, which the kernel shields from
// signals it has no handler for, and the Go runtime's own handler cannot
// die of them there.
var terminatingSignals = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGPIPE}

// startSignals turns terminatingSignals into bytes on a pipe that the
// wait for the start watches. Arming it costs a millisecond (os/signal
// hands each signal to a thread of its own and back), so an init that
// will wait arms it as it starts, beside its config's arrival, and a
// spare init long before any container is known; it is never disarmed:
// the exec resets the handlers.
type startSignals struct {
	armed chan struct{}
	pipe  [2]int
	err   error
}

// armStartSignals begins arming, in the background.
func armStartSignals() *startSignals {
	s := &startSignals{armed: make(chan struct{}), pipe: [2]int{-1, -1}}
	go func() {
		defer close(s.armed)
		if s.err = unix.Pipe2(s.pipe[:], unix.O_CLOEXEC|unix.O_NONBLOCK); s.err != nil {
			return
		}
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, terminatingSignals...)
		go func() {
			sig := <-ch
			unix.Write(s.pipe[1], []byte{byte(sig.(unix.Signal))})
		}()
	}()
	return s
}

// exitIfSignalled ends the init as a signal that came would have, once
// the start is under way and the poll no longer watches. One that comes
// after this and before the exec is lost, as it would be to the
// container's process before its handlers exist.
func (s *startSignals) exitIfSignalled() {
	var b [1]byte
	if n, _ := unix.Read(s.pipe[0], b[:]); n == 1 {
		os.Exit(128 + int(b[0]))
	}
}

// awaitStart waits, on this locked thread, for the start command to
// connect; a goroutine would add a wakeup and a thread handoff to every
// start. A terminating signal ends the init, through the pipe the poll
// watches too.
func awaitStart(listener *os.File, sigs *startSignals) (*os.File, error) {
	<-sigs.armed
	if sigs.err != nil {
		return nil, sigs.err
	}
	fds := []unix.PollFd{{Fd: int32(listener.Fd()), Events: unix.POLLIN}, {Fd: int32(sigs.pipe[0]), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if fds[1].Revents != 0 {
			sigs.exitIfSignalled()
		}
		if fds[0].Revents != 0 {
			break
		}
	}
	fd, _, err := unix.Accept4(int(listener.Fd()), unix.SOCK_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "start-conn"), nil
}
