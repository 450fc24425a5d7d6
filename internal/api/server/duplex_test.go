package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
)

// progressFirst is a backend whose load writes progress before it has read
// the archive, as the real one does layer by layer.
type progressFirst struct {
	*servertest.Fake
}

func (p progressFirst) ImageLoad(ctx context.Context, src io.Reader, quiet bool, out io.Writer) error {
	buf := make([]byte, 64<<10)
	var total int64
	for {
		n, err := src.Read(buf)
		total += int64(n)
		fmt.Fprintf(out, "{\"status\":\"Loading layer\",\"progressDetail\":{\"current\":%d}}\n", total)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "{\"stream\":\"Loaded %d bytes\\n\"}\n", total)
	return nil
}

// TestLoadReadsBodyAfterProgress: the body must stay readable once the
// progress stream has started (net/http ends it at the first write unless
// the handler asks for full duplex), or a non-quiet `docker load` reads a
// truncated archive.
func TestLoadReadsBodyAfterProgress(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(server.New(progressFirst{servertest.New()}, server.WithLogger(quietLogger(t))).Handler())
	defer srv.Close()
	const size = 8 << 20
	body := io.LimitReader(zeros{}, size)
	resp, err := http.Post(srv.URL+"/v1.50/images/load?quiet=0", "application/x-tar", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Loaded %d bytes", size); !strings.Contains(string(out), want) {
		t.Fatalf("load read a truncated body: want %q in the stream, got tail %q", want, tail(string(out), 300))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// readAhead is a backend whose load returns while a read of the body is
// still in flight, as a decompressor reading ahead may.
type readAhead struct {
	*servertest.Fake
	started chan struct{}
}

func (r readAhead) ImageLoad(ctx context.Context, src io.Reader, quiet bool, out io.Writer) error {
	buf := make([]byte, 1024)
	if _, err := src.Read(buf); err != nil {
		return err
	}
	go func() {
		close(r.started)
		io.Copy(io.Discard, src)
	}()
	<-r.started
	fmt.Fprintln(out, `{"stream":"Loaded\n"}`)
	return nil
}

// TestLoadThenCreateOnOneConnection: a full-duplex load closes its
// connection, so the client's next request never shares it with a read the
// load left in flight (net/http panics: "invalid concurrent Body.Read
// call").
func TestLoadThenCreateOnOneConnection(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(server.New(readAhead{servertest.New(), make(chan struct{})}, server.WithLogger(quietLogger(t))).Handler())
	defer srv.Close()
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 4096))
		// The rest of the archive comes late: the load's reader is still
		// in its Read when the response ends.
		pw.Close()
	}()
	resp, err := http.Post(srv.URL+"/v1.50/images/load?quiet=0", "application/x-tar", pr)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !resp.Close {
		t.Error("the load's response does not close the connection")
	}
	for range 3 {
		resp, err := http.Post(srv.URL+"/v1.50/containers/create", "application/json", strings.NewReader(`{"Image":"busybox"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusInternalServerError {
			t.Fatalf("create after a load: %s", resp.Status)
		}
	}
}
