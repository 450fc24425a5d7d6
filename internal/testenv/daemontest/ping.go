package daemontest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTPClient returns an HTTP client whose every request goes to the unix
// socket at path, whatever the URL's host: tests that speak the Engine API
// directly use URLs like "http://d/v1.41/containers/json".
func HTTPClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
}

// HTTPClient is an Engine API client on this daemon's socket.
func (d *Daemon) HTTPClient() *http.Client { return HTTPClient(d.socket) }

// waitPing polls GET /_ping on the socket until it answers 200 "OK", the
// daemon exits (exited closes) or the timeout passes. The socket is in the
// test's own directory, so whoever answers is our daemon. No daemon
// announces readiness by other means both engines share, and the API
// itself is the contract the tests rely on.
func waitPing(socket string, timeout time.Duration, exited <-chan struct{}) error {
	client := HTTPClient(socket)
	client.Timeout = 2 * time.Second
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	var lastErr error
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited before answering /_ping (last error: %v)", lastErr)
		default:
		}
		resp, err := client.Get("http://d/_ping")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(body) == "OK" {
				return nil
			}
			err = fmt.Errorf("/_ping: %s %q", resp.Status, body)
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to /_ping on %s within %v: %v", socket, timeout, lastErr)
		}
		select {
		case <-exited:
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}
