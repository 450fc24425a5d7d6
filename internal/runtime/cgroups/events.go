package cgroups

import (
	"fmt"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// readFrozen reads the "frozen" key of a cgroup.events file.
func readFrozen(events string) (bool, error) {
	s, err := readFile(events)
	if err != nil {
		return false, err
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(line, "frozen "); ok {
			return strings.TrimSpace(v) == "1", nil
		}
	}
	return false, fmt.Errorf("%s has no frozen key (kernel before 5.2?): %w", events, errdefs.ErrNotImplemented)
}

// waitFrozen waits until the cgroup at dir is (or is no longer) frozen.
// The kernel signals every change of cgroup.events as a modification, so
// the wait sleeps in poll(2) on an inotify watch instead of in a loop; the
// watch is only set up when the first read says "not yet".
func waitFrozen(dir string, want bool, timeout time.Duration) error {
	events := path.Join(dir, "cgroup.events")
	if got, err := readFrozen(events); err != nil || got == want {
		return err
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return pollFrozen(events, want, timeout)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		return pollFrozen(events, want, timeout)
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 4096)
	for {
		// Read after arming the watch: a change in between is not lost.
		got, err := readFrozen(events)
		if err != nil || got == want {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return frozenTimeout(dir, want, timeout)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			return fmt.Errorf("wait for %s: %w: %w", events, errdefs.ErrUnavailable, err)
		}
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break // EAGAIN: drained
			}
		}
	}
}

// pollFrozen is the fallback when inotify is unavailable (out of
// watches): a bounded backoff loop.
func pollFrozen(events string, want bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	delay := 100 * time.Microsecond
	for {
		got, err := readFrozen(events)
		if err != nil || got == want {
			return err
		}
		if time.Now().After(deadline) {
			return frozenTimeout(path.Dir(events), want, timeout)
		}
		time.Sleep(delay)
		delay = min(delay*2, 10*time.Millisecond)
	}
}

func frozenTimeout(dir string, want bool, timeout time.Duration) error {
	state := "frozen"
	if !want {
		state = "thawed"
	}
	return fmt.Errorf("cgroup %s not %s after %v: %w", dir, state, timeout, errdefs.ErrUnavailable)
}
