package shim

import (
	"net"
)

// attach registers conn as a client of a process's stdio and then reads
// the client's stdin until it ends.
func (s *shim) attach(conn *net.UnixConn, req *request) {
	p, err := s.process(req.Exec)
	if err != nil {
		writeMsg(conn, errorResponse(err))
		conn.Close()
		return
	}
	a := &attachment{
		conn:       conn,
		stdin:      req.Stdin,
		stdout:     req.Stdout,
		stderr:     req.Stderr && !p.terminal,
		closeStdin: req.CloseStdin || p.stdinOnce,
	}
	// The response goes out before any frame: the copiers wait on wmu.
	a.wmu.Lock()
	live := p.addClient(a)
	err = writeMsg(conn, response{})
	a.wmu.Unlock()
	if !live {
		a.end()
		return
	}
	if err != nil {
		p.detach(a)
		return
	}
	s.readStdin(p, a)
}

// readStdin forwards what the client sends to the process's stdin. Its
// end (the client's half-close, or its departure) closes the process's
// stdin when the client asked for it (docker's StdinOnce) and there is no
// terminal; otherwise it ends this client's attach, as docker does.
func (s *shim) readStdin(p *process, a *attachment) {
	var buf []byte
	if a.stdin {
		buf = make([]byte, 4096)
	} else {
		// A client without stdin sends nothing: a read only notices it
		// leave.
		buf = make([]byte, 16)
	}
	for {
		n, err := a.conn.Read(buf)
		if n > 0 && a.stdin {
			p.writeStdin(buf[:n])
		}
		if err != nil {
			break
		}
	}
	if a.stdin && a.closeStdin && !p.terminal {
		p.closeStdin()
		// The client stays attached for the output that follows; a
		// client that is gone is dropped at the next write.
		return
	}
	// Its stdin ended this client's attach: it gets the end of the
	// output, for it.
	p.remove(a)
	a.end()
}
