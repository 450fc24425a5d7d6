package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/daemon/system"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// registryEngine is an Engine API server whose image and system endpoints
// (login, pull, push) are the daemon's real services and whose containers
// are servertest's fake.
type registryEngine struct {
	server.ContainerBackend
	server.ExecBackend
	server.NetworkBackend
	server.VolumeBackend
	server.ContainerFSBackend
	*engineImages
	*engineSystem
}

// The two services are both named Service; aliases give the embedded
// fields distinct names.
type (
	engineImages = images.Service
	engineSystem = system.Service
)

// serveRegistryEngine starts such a server on a unix socket of the test
// and returns its host. The image service gets an empty config dir of its
// own, so that only what the CLI sends authenticates it.
func serveRegistryEngine(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	root := t.TempDir()
	svc, err := images.New(t.Context(), images.Options{
		Root: root, ConfigDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Distribution: []distribution.Option{distribution.WithRetries(1, 10*time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	})
	sys := system.New(system.Options{Version: "0.0.0-test", APIVersion: "1.50", MinAPIVersion: "1.24", DataRoot: root, Images: svc, Logger: slog.New(slog.DiscardHandler)})
	fake := servertest.New()
	srv := server.New(registryEngine{fake, fake, fake, fake, fake, svc, sys}, server.WithLogger(slog.New(slog.DiscardHandler)))
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { hs.Close() })
	return "unix://" + sock
}

// TestCredHelperAgainstRegistry logs in to a real registry that requires
// basic auth, through the engine, with the credentials kept by a helper;
// pull and push then authenticate with what the helper gives back, and
// fail again once logged out. Credentials the docker CLI stored through
// the same helper work for berth too.
func TestCredHelperAgainstRegistry(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("alice", "s3cret"))
	imagetest.Push(t, reg, "busybox:1", imagetest.BusyboxImage(t))
	host := serveRegistryEngine(t)
	helpers := newHelperDir(t)
	store := helpers.fake("fake")
	cfgDir := t.TempDir()
	writeConfig(t, cfgDir, `{"credsStore":"fake"}`)
	berth := func(stdin string, args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var out, errb bytes.Buffer
		env := map[string]string{"PATH": helpers.path()}
		code := Main(ctx, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}, append([]string{"-H", host, "--config", cfgDir}, args...),
			WithGetenv(func(k string) string { return env[k] }))
		return result{out.String(), errb.String(), code}
	}
	ref, copyRef := reg.Ref("busybox:1"), reg.Ref("copy:2")

	if r := berth("", "pull", "-q", ref); r.code == 0 {
		t.Fatalf("an anonymous pull from a registry that requires a login worked: %q", r.out)
	}
	if r := berth("wrong\n", "login", "-u", "alice", "--password-stdin", reg.Host); r.code != 1 || !strings.Contains(r.err, "login attempt to http://"+reg.Host+"/v2/ failed with status: 401 Unauthorized") {
		t.Errorf("login with a wrong password: %d %q %q", r.code, r.out, r.err)
	}
	if _, ok := store.creds(reg.Host); ok {
		t.Error("a failed login stored credentials")
	}
	if r := berth("s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Host); r.code != 0 || r.out != "Login Succeeded\n" || r.err != "" {
		t.Fatalf("login: %d %q %q", r.code, r.out, r.err)
	}
	if c, ok := store.creds(reg.Host); !ok || c.Username != "alice" || c.Secret != "s3cret" {
		t.Errorf("helper holds %+v %v", c, ok)
	}
	if raw, _ := readConfig(t, cfgDir); bytes.Contains(raw, []byte("s3cret")) || bytes.Contains(raw, []byte(encodeAuth("alice", "s3cret"))) {
		t.Errorf("the secret is in config.json:\n%s", raw)
	}
	if r := berth("", "pull", "-q", ref); r.code != 0 || r.out != ref+"\n" {
		t.Fatalf("pull with the helper's credentials: %d %q %q", r.code, r.out, r.err)
	}
	if r := berth("", "tag", ref, copyRef); r.code != 0 {
		t.Fatalf("tag: %d %q", r.code, r.err)
	}
	if r := berth("", "push", "-q", copyRef); r.code != 0 {
		t.Fatalf("push with the helper's credentials: %d %q %q", r.code, r.out, r.err)
	}
	if r := berth("", "logout", reg.Host); r.code != 0 || r.err != "" {
		t.Errorf("logout: %d %q %q", r.code, r.out, r.err)
	}
	if _, ok := store.creds(reg.Host); ok {
		t.Error("logout left the credentials in the helper")
	}
	if r := berth("", "rmi", copyRef); r.code != 0 {
		t.Fatalf("rmi: %d %q", r.code, r.err)
	}
	if r := berth("", "pull", "-q", copyRef); r.code == 0 {
		t.Errorf("pull after logout worked: %q", r.out)
	}

	// The docker CLI logs in through the same helper and config dir.
	requireDockerCLI(t)
	docker := exec.Command(dockerCLI, "-H", host, "--config", cfgDir, "login", "-u", "alice", "--password-stdin", reg.Host)
	docker.Env = []string{"HOME=" + t.TempDir(), "PATH=" + helpers.path()}
	docker.Stdin = strings.NewReader("s3cret\n")
	if out, err := docker.CombinedOutput(); err != nil {
		t.Fatalf("docker login: %v\n%s", err, out)
	}
	if r := berth("", "pull", "-q", copyRef); r.code != 0 {
		t.Errorf("pull with the credentials docker stored: %d %q %q", r.code, r.out, r.err)
	}
}
