package cli

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestRunProxiesSignals sends the CLI process a signal while run waits and
// expects it forwarded to the container as docker does (kill?signal=USR2),
// the container's exit status then ending the command. Not parallel: the
// signal goes to the whole test process.
func TestRunProxiesSignals(t *testing.T) {
	d := newFakeDaemon(t)
	started := make(chan struct{})
	killed := make(chan string, 1)
	d.json("POST /containers/create", http.StatusCreated, map[string]any{"Id": "5151"})
	d.handle("POST /containers/{id}/start", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		close(started)
	})
	d.handle("POST /containers/{id}/kill", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		select {
		case killed <- r.URL.Query().Get("signal"):
		default:
		}
	})
	exited := make(chan struct{})
	d.handle("POST /containers/{id}/attach", func(w http.ResponseWriter, r *http.Request) {
		hijack(w, "application/vnd.docker.multiplexed-stream", func(net.Conn, *bufio.ReadWriter) { <-exited })
	})
	d.handle("POST /containers/{id}/wait", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-exited
		writeJSONLine(w, map[string]any{"StatusCode": 140})
	})
	done := make(chan result, 1)
	go func() { done <- d.berth("run", "busybox", "sleep", "1000") }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the container was not started")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-killed:
		if sig != "USR2" {
			t.Errorf("forwarded %q, want USR2", sig)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the signal was not forwarded")
	}
	close(exited)
	if r := <-done; r.code != 140 {
		t.Errorf("exit %d, want the container's 140 (%s)", r.code, r.err)
	}
}
