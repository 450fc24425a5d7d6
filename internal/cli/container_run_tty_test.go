package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ttyDaemon plays a container with a terminal: the attach stream is raw
// and echoes what it reads, like a shell's line discipline.
func ttyDaemon(t *testing.T) (*fakeDaemon, chan string) {
	d := newFakeDaemon(t)
	resized := make(chan string, 8)
	d.json("POST /containers/create", http.StatusCreated, map[string]any{"Id": "77777777aaaa"})
	d.handle("POST /containers/{id}/start", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	d.handle("POST /containers/{id}/resize", func(w http.ResponseWriter, r *http.Request) {
		resized <- r.URL.Query().Get("h") + "x" + r.URL.Query().Get("w")
		w.WriteHeader(http.StatusOK)
	})
	d.handle("POST /containers/{id}/attach", func(w http.ResponseWriter, r *http.Request) {
		hijack(w, "application/vnd.docker.raw-stream", func(conn net.Conn, rw *bufio.ReadWriter) {
			buf := make([]byte, 256)
			for {
				n, err := rw.Read(buf)
				if n > 0 {
					rw.Write(bytes.ToUpper(buf[:n]))
					rw.Flush()
				}
				if err != nil {
					return
				}
			}
		})
	})
	d.handle("POST /containers/{id}/wait", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	return d, resized
}

// TestRunTTY drives run -it through a real pseudo-terminal: the terminal
// goes raw, typed input reaches the container and its output comes back,
// the size is sent, and ctrl-p ctrl-q detaches with status 0 and the
// terminal restored.
func TestRunTTY(t *testing.T) {
	t.Parallel()
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("a pseudo-terminal is needed: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 33, Cols: 111}); err != nil {
		t.Fatal(err)
	}
	before := termios(t, tty)
	d, resized := ttyDaemon(t)
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), Streams{In: tty, Out: tty, Err: tty},
			[]string{"-H", d.host, "run", "-it", "busybox", "sh"})
	}()
	select {
	case size := <-resized:
		if size != "33x111" {
			t.Errorf("resize %s, want 33x111", size)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resize")
	}
	if _, err := master.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, master, "HELLO"); !strings.Contains(got, "HELLO") {
		t.Fatalf("output %q", got)
	}
	if raw := termios(t, tty); raw.Lflag&(unix.ECHO|unix.ICANON) != 0 {
		t.Error("the terminal is not in raw mode during the session")
	}
	master.Write([]byte{0x10, 0x11}) // ctrl-p ctrl-q
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("detach exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ctrl-p ctrl-q did not detach")
	}
	if after := termios(t, tty); after != before {
		t.Error("the terminal was not restored")
	}
	c := d.sent("POST /containers/create")
	if len(c) != 1 || !strings.Contains(string(c[0].Body), `"ConsoleSize":[33,111]`) {
		t.Errorf("create did not carry the console size: %s", c[0].Body)
	}
}

func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 256)
	deadline := time.Now().Add(10 * time.Second)
	if f, ok := r.(*os.File); ok {
		f.SetReadDeadline(deadline)
	}
	for !strings.Contains(got.String(), want) && time.Now().Before(deadline) {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return got.String()
}

func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}
