package nettest

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// ServeWhoAmI runs an HTTP server inside the namespace on addr (port chosen
// by the kernel) that answers every request with the client's IP address as
// the namespace sees it, and a newline: a remote host's view of who called.
// It stops when the test ends.
func (n *Netns) ServeWhoAmI(addr netip.Addr) netip.AddrPort {
	n.t.Helper()
	l, err := n.Listen("tcp4", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		n.t.Fatalf("nettest: listen in %s: %v", n.Name, err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			_, _ = w.Write([]byte(host + "\n"))
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			n.t.Logf("nettest: whoami server in %s: %v", n.Name, err)
		}
	}()
	n.t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return netip.MustParseAddrPort(l.Addr().String())
}

// HTTPClient is an HTTP client whose connections are made inside the
// namespace: requests come from this namespace's addresses.
func (n *Netns) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       n.Dial,
			DisableKeepAlives: true,
		},
	}
}

// NewHostClient is an HTTP client in the host's own namespace that never
// keeps connections and gives up after a few seconds: tests' requests to
// published ports and namespaces.
func NewHostClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}
