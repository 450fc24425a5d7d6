package images_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/api/server/servertest"
	"github.com/berth-project/berth/internal/daemon/images"
	"github.com/berth-project/berth/internal/daemon/system"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// dockerCLI is the real docker client the engine must satisfy.
const dockerCLI = "/usr/local/bin/docker"

// The two services are both named Service; aliases give the embedded
// fields distinct names.
type (
	imageService  = images.Service
	systemService = system.Service
)

// backend is an engine whose image and system endpoints are the real
// services and whose containers are the API server"s fake.
type backend struct {
	server.ContainerBackend
	server.ExecBackend
	server.NetworkBackend
	server.VolumeBackend
	server.ContainerFSBackend
	*imageService
	*systemService
}

// serveAPI serves the Engine API over f"s services on a unix socket and
// returns a function that runs the docker CLI against it.
func serveAPI(t *testing.T, f *fixture) func(stdin string, args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Fatalf("the docker CLI is needed at %s (scripts/setup.sh installs it): %v", dockerCLI, err)
	}
	fake := servertest.New()
	sys := system.New(system.Options{Version: "0.0.0-test", APIVersion: "1.50", MinAPIVersion: "1.24", DataRoot: f.root, Events: f.events, Images: f.svc})
	srv := server.New(backend{ContainerBackend: fake, ExecBackend: fake, NetworkBackend: fake, VolumeBackend: fake, ContainerFSBackend: fake, imageService: f.svc, systemService: sys})
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { hs.Close() })
	cfgDir := t.TempDir()
	return func(stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerCLI, append([]string{"-H", "unix://" + sock}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfgDir)
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
}

// TestDockerCLI drives the image and system endpoints with the real
// docker CLI: what it prints is what a docker user would see.
func TestDockerCLI(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithHtpasswd("alice", "s3cret"))
	imagetest.Push(t, reg, "busybox:1", imagetest.BusyboxImage(t, imagetest.WithRandomLayer(1<<20)))
	f := newService(t)
	docker := serveAPI(t, f)
	since := time.Now().Add(-time.Second).Format(time.RFC3339Nano)
	ref := reg.Ref("busybox:1")

	step := func(stdin string, want *regexp.Regexp, args ...string) string {
		t.Helper()
		out, err := docker(stdin, args...)
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if want != nil && !want.MatchString(out) {
			t.Errorf("docker %s printed:\n%s\nwant it to match %s", strings.Join(args, " "), out, want)
		}
		return out
	}
	fail := func(want *regexp.Regexp, args ...string) {
		t.Helper()
		out, err := docker("", args...)
		if err == nil || !want.MatchString(out) {
			t.Errorf("docker %s: err %v, printed:\n%s\nwant a failure matching %s", strings.Join(args, " "), err, out, want)
		}
	}

	// (An anonymous pull gets 401, on which the docker CLI offers an
	// interactive login: TestCredentials covers it without the CLI.)
	step("s3cret\n", regexp.MustCompile(`Login Succeeded`), "login", "-u", "alice", "--password-stdin", reg.Host)
	step("", regexp.MustCompile(`(?s)1: Pulling from busybox.*Pull complete.*Digest: sha256:[0-9a-f]{64}.*Status: Downloaded newer image for `+regexp.QuoteMeta(ref)), "pull", ref)
	step("", regexp.MustCompile(`Status: Image is up to date for `+regexp.QuoteMeta(ref)), "pull", ref)
	step("", regexp.MustCompile(regexp.QuoteMeta(reg.Host)+`/busybox\s+1\s+[0-9a-f]{12}`), "images")
	step("", nil, "tag", ref, reg.Ref("copy:2"))
	step("", regexp.MustCompile(`(?s)The push refers to repository \[`+regexp.QuoteMeta(reg.Host)+`/copy\].*2: digest: sha256:[0-9a-f]{64} size: \d+`), "push", reg.Ref("copy:2"))
	fail(regexp.MustCompile(`invalid reference format`), "tag", ref, "Bad:Name")
	fail(regexp.MustCompile(`No such image: nope:1`), "image", "inspect", "nope:1")
	step("", regexp.MustCompile(`\[`+regexp.QuoteMeta(`"`+ref+`"`)), "image", "inspect", "--format", "{{json .RepoTags}}", reg.Ref("copy:2"))
	step("", regexp.MustCompile(`(?m)^[0-9a-f]{12}|<missing>`), "history", ref)

	archive := filepath.Join(t.TempDir(), "images.tar")
	step("", nil, "save", "-o", archive, ref, reg.Ref("copy:2"))
	step("", regexp.MustCompile(`Untagged: `+regexp.QuoteMeta(reg.Ref("copy:2"))), "rmi", reg.Ref("copy:2"))
	step("", regexp.MustCompile(`(?s)Untagged: `+regexp.QuoteMeta(ref)+`.*Deleted: sha256:`), "rmi", ref)
	step("", regexp.MustCompile(`(?s)Loaded image: `+regexp.QuoteMeta(ref)+`.*Loaded image: `+regexp.QuoteMeta(reg.Ref("copy:2"))+`|(?s)Loaded image: `+regexp.QuoteMeta(reg.Ref("copy:2"))+`.*Loaded image: `+regexp.QuoteMeta(ref)), "load", "-i", archive)

	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(rootfs, rootfsTar(t).Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	step("", regexp.MustCompile(`^sha256:[0-9a-f]{64}\s*$`), "import", "-c", "CMD [\"/bin/sh\"]", "-m", "hello", rootfs, "imported:1")
	step("", regexp.MustCompile(`^\["/bin/sh"\]\s*$`), "image", "inspect", "--format", "{{json .Config.Cmd}}", "imported:1")
	step("", regexp.MustCompile(regexp.QuoteMeta(reg.Host)+`/copy`), "search", reg.Host+"/cop")
	step("", regexp.MustCompile(`(?s)Images\s+2\s.*Containers`), "system", "df")
	step("", regexp.MustCompile(`(?s)Server Version: 0\.0\.0-test.*Storage Driver: overlay2.*Cgroup Driver: cgroupfs`), "info")
	step("", regexp.MustCompile(`(?s)Server: Berth.*Engine:.*Version:\s+0\.0\.0-test.*API version:\s+1\.50 \(minimum version 1\.24\)`), "version")
	events := step("", nil, "events", "--since", since, "--until", time.Now().Format(time.RFC3339Nano), "--filter", "type=image")
	for _, action := range []string{"pull", "tag", "push", "untag", "delete", "save", "load", "import"} {
		if !regexp.MustCompile(`image ` + action + ` `).MatchString(events) {
			t.Errorf("no image %s event in:\n%s", action, events)
		}
	}
	step("", regexp.MustCompile(`Total reclaimed space`), "image", "prune", "-a", "-f")
	step("", regexp.MustCompile(`(?s)^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s*$`), "images")
}
