package imagetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// toolTimeout bounds one skopeo or umoci run: minutes for the benchmarks'
// 200 MB image on a loaded machine, and still a clear failure, not a hang
// until the test binary's own timeout.
const toolTimeout = 5 * time.Minute

// Skopeo and Umoci are where Debian's packages install the tools.
const (
	Skopeo = "/usr/bin/skopeo"
	Umoci  = "/usr/bin/umoci"
)

func requireTool(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("imagetest: %s is missing: apt-get install %s (scripts/setup.sh does)", path, pkg)
	}
}

// toolEnv is the environment for skopeo and umoci: the test's, with HOME,
// TMPDIR and the registry auth file moved into dir, so no developer's
// ~/.docker/config.json or containers auth changes what a test sees, and
// their temporary files go away with the test.
func toolEnv(t testing.TB, dir string) []string {
	auth := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(auth, []byte("{}\n"), 0o600); err != nil {
		t.Fatalf("imagetest: %v", err)
	}
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "HOME", "TMPDIR", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKER_CONFIG":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+dir, "TMPDIR="+dir, "REGISTRY_AUTH_FILE="+auth)
}

func runTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = toolEnv(t, t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("imagetest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// SkopeoCopy runs `skopeo copy [args] src dst`, where src and dst are
// skopeo transports: "docker-archive:PATH[:NAME]", "oci:DIR:NAME",
// "docker://HOST/REPO:TAG", "dir:PATH". Signature policy is off
// (--insecure-policy), and TLS verification is off for docker:// sides,
// since StartRegistry serves plain HTTP; pass SkopeoCreds for credentials.
// Output and errors go to the failure message.
func SkopeoCopy(t testing.TB, src, dst string, args ...string) {
	t.Helper()
	requireTool(t, Skopeo, "skopeo")
	full := []string{"--insecure-policy", "copy", "--retry-times=0"}
	if strings.HasPrefix(src, "docker://") {
		full = append(full, "--src-tls-verify=false")
	}
	if strings.HasPrefix(dst, "docker://") {
		full = append(full, "--dest-tls-verify=false")
	}
	full = append(full, args...)
	runTool(t, Skopeo, append(full, src, dst)...)
}

// SkopeoCreds returns skopeo's credential flag for reg on one side of a
// copy ("src" or "dest"), or nothing for an anonymous registry:
// SkopeoCopy(t, src, "docker://"+reg.Ref("a:b"), SkopeoCreds("dest", reg)...).
func SkopeoCreds(side string, reg *registrytest.Registry) []string {
	if reg.User == "" {
		return nil
	}
	return []string{"--" + side + "-creds=" + reg.User + ":" + reg.Password}
}

// UmociUnpack unpacks the image named tag (its RefNameAnnotation) in the
// OCI layout layoutDir into the runtime bundle bundleDir, which must not
// exist yet, and returns the bundle's rootfs. umoci writes its metadata
// (config.json, umoci.json, sha256_*.mtree) beside the rootfs, never in
// it, so the returned directory holds exactly the image's tree. Run as
// non-root it unpacks with --rootless, which loses owners.
func UmociUnpack(t testing.TB, layoutDir, tag, bundleDir string) string {
	t.Helper()
	requireTool(t, Umoci, "umoci")
	args := []string{"unpack"}
	if os.Geteuid() != 0 {
		args = append(args, "--rootless")
	}
	runTool(t, Umoci, append(args, "--image", layoutDir+":"+tag, bundleDir)...)
	return filepath.Join(bundleDir, "rootfs")
}
