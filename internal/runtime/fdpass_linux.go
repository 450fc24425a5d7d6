package runtime

import (
	"errors"

	"golang.org/x/sys/unix"
)

// RecvFDs reads one message from the unix socket fd into buf, with up to
// maxFDs descriptors passed along (SCM_RIGHTS, received close-on-exec).
// n and oobn are the bytes of data and of control message read: both 0
// when the peer hung up.
func RecvFDs(fd int, buf []byte, maxFDs int) (n, oobn int, fds []int, err error) {
	oob := make([]byte, unix.CmsgSpace(maxFDs*4))
	for {
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return 0, 0, nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return 0, 0, nil, err
	}
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			for _, f := range fds {
				unix.Close(f)
			}
			return 0, 0, nil, err
		}
		fds = append(fds, got...)
	}
	return n, oobn, fds, nil
}
