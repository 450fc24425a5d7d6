package dns

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// listener is one scope's pair of sockets and the connections accepted on
// the TCP one.
type listener struct {
	addr  netip.AddrPort
	udp   *net.UDPConn
	tcp   *net.TCPListener
	loops sync.WaitGroup // the UDP read loop and the TCP accept loop

	mu     sync.Mutex
	conns  map[*net.TCPConn]struct{}
	closed bool
}

func listen(addr netip.AddrPort) (*listener, error) {
	// A socket just closed may still be open a moment in a child that a
	// fork elsewhere in the process copied it into, until that child
	// execs: a port in use is tried again, briefly.
	var l *listener
	var err error
	for try := 0; ; try++ {
		if l, err = listenOnce(addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) || try == listenRetries {
			return l, err
		}
		time.Sleep(listenRetryDelay)
	}
}

// listenRetries and listenRetryDelay bound listen's wait for a port in use.
const (
	listenRetries    = 20
	listenRetryDelay = 10 * time.Millisecond
)

func listenOnce(addr netip.AddrPort) (*listener, error) {
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, errdefs.Errorf(errdefs.ErrUnavailable, "dns: cannot listen on %s/udp: %w", addr, err)
	}
	tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		_ = udp.Close()
		return nil, errdefs.Errorf(errdefs.ErrUnavailable, "dns: cannot listen on %s/tcp: %w", addr, err)
	}
	return &listener{addr: addr, udp: udp, tcp: tcp, conns: map[*net.TCPConn]struct{}{}}, nil
}

// close closes both sockets and every accepted connection, and returns
// once the loops have let go of the sockets: Go closes a descriptor only
// when the last call blocked on it returns, and a caller restarting the
// listener needs the port free.
func (l *listener) close() error {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	err := errors.Join(l.udp.Close(), l.tcp.Close())
	l.loops.Wait()
	return err
}

// track registers an accepted connection so close can end it; false when
// the listener is closing.
func (l *listener) track(c *net.TCPConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *listener) untrack(c *net.TCPConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// serveUDP reads queries until the socket is closed. Local answers are
// made here, without a goroutine; queries to forward take a slot, and are
// dropped when none is free (the client's resolver retries).
func (s *Server) serveUDP(sc *scope, l *listener) {
	defer s.inflight.Done()
	defer l.loops.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := l.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if isClosed(err) {
				return
			}
			s.log.Debug("dns: udp read", "addr", l.addr, "err", err)
			continue
		}
		// The request may keep slices of the packet, and buf is reused.
		pkt := append([]byte(nil), buf[:n]...)
		req, ups, reply := s.local(sc, from.Addr().Unmap(), pkt, false)
		if reply != nil {
			_, _ = l.udp.WriteToUDPAddrPort(reply, from)
			continue
		}
		if req == nil {
			continue
		}
		select {
		case s.forwards <- struct{}{}:
		default:
			s.log.Debug("dns: forward slots full, query dropped", "addr", l.addr)
			continue
		}
		s.inflight.Add(1)
		go func() {
			defer s.inflight.Done()
			defer func() { <-s.forwards }()
			ctx, cancel := s.forwardContext()
			defer cancel()
			if out := s.forward(ctx, ups, req, false); out != nil {
				_, _ = l.udp.WriteToUDPAddrPort(out, from)
			}
		}()
	}
}

// serveTCP accepts connections until the socket is closed; beyond
// tcpSlots open connections a new one is closed at once.
func (s *Server) serveTCP(sc *scope, l *listener) {
	defer s.inflight.Done()
	defer l.loops.Done()
	for {
		c, err := l.tcp.AcceptTCP()
		if err != nil {
			if isClosed(err) {
				return
			}
			// Out of descriptors, usually: give the others time to
			// close rather than spin.
			s.log.Debug("dns: tcp accept", "addr", l.addr, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case s.tcpConns <- struct{}{}:
		default:
			_ = c.Close()
			continue
		}
		if !l.track(c) {
			_ = c.Close()
			<-s.tcpConns
			return
		}
		s.inflight.Add(1)
		go s.serveConn(sc, l, c)
	}
}

// serveConn answers the length-prefixed queries of one TCP connection in
// order until the client closes it, idles or sends garbage.
func (s *Server) serveConn(sc *scope, l *listener, c *net.TCPConn) {
	defer s.inflight.Done()
	defer func() { <-s.tcpConns }()
	defer l.untrack(c)
	defer c.Close()
	var client netip.Addr
	if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		client = ra.AddrPort().Addr().Unmap()
	}
	var lenBuf [2]byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(tcpIdle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint16(lenBuf[:])
		if n == 0 {
			return
		}
		pkt := make([]byte, n)
		if _, err := io.ReadFull(c, pkt); err != nil {
			return
		}
		req, ups, reply := s.local(sc, client, pkt, true)
		if req != nil {
			ctx, cancel := s.forwardContext()
			reply = s.forward(ctx, ups, req, true)
			cancel()
		}
		if reply == nil {
			continue
		}
		out := make([]byte, 2+len(reply))
		binary.BigEndian.PutUint16(out, uint16(len(reply)))
		copy(out[2:], reply)
		_ = c.SetWriteDeadline(time.Now().Add(tcpIdle))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
