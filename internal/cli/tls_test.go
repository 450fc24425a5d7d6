package cli

import (
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
)

// TestTLSFlags reaches a TLS daemon on tcp with docker's flags.
func TestTLSFlags(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(server.New(servertest.New(), server.WithLogger(slog.New(slog.DiscardHandler))).Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	host := "tcp://" + srv.Listener.Addr().String()
	d := &fakeDaemon{t: t, host: "unix:///nonexistent"}
	r := d.berth("-H", host, "--tlsverify", "--tlscacert", ca, "version", "--format", "{{.Server.Os}}")
	if r.code != 0 || r.out != "linux\n" {
		t.Errorf("--tlsverify: exit %d out %q err %q", r.code, r.out, r.err)
	}
	if r := d.berth("-H", host, "--tls", "images", "-q"); r.code != 0 || r.out == "" {
		t.Errorf("--tls: exit %d out %q err %q", r.code, r.out, r.err)
	}
	if r := d.berth("-H", host, "--tlsverify", "--tlscacert", filepath.Join(t.TempDir(), "none.pem"), "ps"); r.code == 0 || !strings.Contains(r.err, "none.pem") {
		t.Errorf("missing CA: exit %d err %q", r.code, r.err)
	}
	if r := d.berth("-H", host, "ps"); r.code == 0 {
		t.Errorf("plain HTTP to a TLS daemon worked: %q", r.out)
	}
}
