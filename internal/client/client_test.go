package client

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sdk "github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestSelectHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		flag string
		env  map[string]string
		want string
	}{
		{"", nil, DefaultHost},
		{"", map[string]string{"DOCKER_HOST": "unix:///d.sock"}, "unix:///d.sock"},
		{"", map[string]string{"DOCKER_HOST": "unix:///d.sock", "BERTH_HOST": "unix:///b.sock"}, "unix:///b.sock"},
		{"tcp://h:1", map[string]string{"DOCKER_HOST": "unix:///d.sock", "BERTH_HOST": "unix:///b.sock"}, "tcp://h:1"},
	}
	for _, c := range cases {
		got := SelectHost(c.flag, func(k string) string { return c.env[k] })
		if got != c.want {
			t.Errorf("SelectHost(%q, %v) = %q, want %q", c.flag, c.env, got, c.want)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		tls  bool
		want string
		bad  bool
	}{
		{in: "", want: DefaultHost},
		{in: "unix://", want: DefaultHost},
		{in: "unix:///tmp/x.sock", want: "unix:///tmp/x.sock"},
		{in: "tcp://10.0.0.1", want: "tcp://10.0.0.1:2375"},
		{in: "tcp://10.0.0.1", tls: true, want: "tcp://10.0.0.1:2376"},
		{in: "tcp://10.0.0.1:99/base/", want: "tcp://10.0.0.1:99/base"},
		{in: "10.0.0.1:99", want: "tcp://10.0.0.1:99"},
		{in: "tcp://[::1]", want: "tcp://[::1]:2375"},
		{in: "ftp://x", bad: true},
	}
	for _, c := range cases {
		got, err := NormalizeHost(c.in, c.tls)
		if c.bad {
			if err == nil {
				t.Errorf("NormalizeHost(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeHost(%q, %v) = %q, %v; want %q", c.in, c.tls, got, err, c.want)
		}
	}
}

// unixServer serves h on a fresh unix socket and returns its address.
func unixServer(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func noEnv(string) string { return "" }

func TestNegotiatesAndClassifiesErrors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.45")
			w.Header().Set("Ostype", "linux")
			w.Write([]byte("OK"))
			return
		}
		status := map[string]int{
			"/v1.45/containers/nope/json": http.StatusNotFound,
			"/v1.45/containers/busy/json": http.StatusConflict,
			"/v1.45/containers/bad/json":  http.StatusBadRequest,
			"/v1.45/containers/auth/json": http.StatusUnauthorized,
			"/v1.45/containers/down/json": http.StatusServiceUnavailable,
		}[r.URL.Path]
		if status == 0 {
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"message":"No such container: ` + strings.Split(r.URL.Path, "/")[3] + `"}`))
	})
	c, err := New(Options{Host: unixServer(t, h), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	checks := []struct {
		name string
		is   func(error) bool
	}{
		{"nope", errdefs.IsNotFound},
		{"busy", errdefs.IsConflict},
		{"bad", errdefs.IsInvalidParameter},
		{"auth", errdefs.IsUnauthorized},
		{"down", errdefs.IsUnavailable},
	}
	for _, ch := range checks {
		_, err := c.ContainerInspect(ctx, ch.name, sdk.ContainerInspectOptions{})
		err = Classify(err)
		if err == nil || !ch.is(err) {
			t.Errorf("%s: class of %v wrong", ch.name, err)
			continue
		}
		if want := "Error response from daemon: No such container: " + ch.name; err.Error() != want {
			t.Errorf("%s: message %q, want %q", ch.name, err.Error(), want)
		}
	}
	_, err = c.ContainerInspect(ctx, "other", sdk.ContainerInspectOptions{})
	if err = Classify(err); err == nil || errdefs.IsNotFound(err) || errdefs.IsConflict(err) {
		t.Errorf("a 500 must have no class: %v", err)
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
	mu.Lock()
	defer mu.Unlock()
	if paths[0] != "HEAD /_ping" && paths[0] != "GET /_ping" {
		t.Errorf("first request %q, want the version ping", paths[0])
	}
}

func TestUnreachableDaemonIsUnavailable(t *testing.T) {
	t.Parallel()
	c, err := New(Options{Host: "unix://" + filepath.Join(t.TempDir(), "none.sock"), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ServerVersion(context.Background(), sdk.ServerVersionOptions{})
	if err = Classify(err); !errdefs.IsUnavailable(err) {
		t.Fatalf("got %v, want Unavailable", err)
	}
}

func TestPinnedAPIVersionFromEnv(t *testing.T) {
	t.Parallel()
	got := make(chan string, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	})
	env := map[string]string{"BERTH_HOST": unixServer(t, h), "DOCKER_API_VERSION": "1.41"}
	c, err := New(Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(context.Background(), sdk.InfoOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "/v1.41/info" {
		t.Fatalf("path %q, want /v1.41/info with no ping", p)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.50")
		w.Write([]byte("OK"))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	host := "tcp://" + srv.Listener.Addr().String()
	ping := func(tls TLS) error {
		c, err := New(Options{Host: host, TLS: tls, Getenv: noEnv})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Ping(context.Background(), sdk.PingOptions{})
		return err
	}
	if err := ping(TLS{Verify: true, CACert: ca}); err != nil {
		t.Errorf("--tlsverify with the right CA: %v", err)
	}
	if err := ping(TLS{Enable: true}); err != nil {
		t.Errorf("--tls without verification: %v", err)
	}
	if err := ping(TLS{Verify: true}); err == nil {
		t.Error("--tlsverify against system roots accepted a self-signed daemon")
	}
	if err := ping(TLS{}); err == nil {
		t.Error("plain HTTP to a TLS daemon succeeded")
	}
	if err := ping(TLS{Verify: true, CACert: ca, Cert: ca}); err == nil {
		t.Error("--tlscert without --tlskey accepted")
	}
}
