package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// dockerCLI is the real docker CLI the parity tests compare against.
const dockerCLI = "/usr/local/bin/docker"

// requireDockerCLI fails (not skips) when the docker CLI is missing: the
// parity tests are how we know berth sends what docker sends.
func requireDockerCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Fatalf("the parity tests need the docker CLI at %s: %v", dockerCLI, err)
	}
}

// createDaemon answers create with a fixed ID and records the bodies.
func createDaemon(t *testing.T) *fakeDaemon {
	d := newFakeDaemon(t)
	d.json("POST /containers/create", http.StatusCreated, map[string]any{"Id": "0123456789ab0123456789ab", "Warnings": []string{}})
	d.handle("POST /containers/{id}/wait", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"StatusCode": 0})
	})
	d.handle("POST /containers/{id}/start", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return d
}

// runDocker runs the real docker CLI against d with a private config dir.
func runDocker(t *testing.T, d *fakeDaemon, args ...string) (string, string, int) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(dockerCLI, append([]string{"-H", d.host}, args...)...)
	cmd.Env = []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"), "PATH=/usr/bin:/bin", "B=from-env"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// normalize decodes a request body and drops members that carry no value
// (null, false, 0, "", [] and {}): the daemon reads a missing member and a
// zero one alike, and the two CLIs' type versions differ only there.
func normalize(t *testing.T, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return prune(v)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		// docker passes -e values through a map: their order is random.
		if env, ok := x["Env"].([]any); ok {
			sort.Slice(env, func(i, j int) bool { return fmt.Sprint(env[i]) < fmt.Sprint(env[j]) })
		}
		for k, e := range x {
			if p := prune(e); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(x) == 0 {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = prune(e)
		}
		return out
	case bool:
		if !x {
			return nil
		}
	case float64:
		if x == 0 {
			return nil
		}
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

func TestCreateRequestMatchesDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Setenv("B", "from-env")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	envFile := write("env", "# comment\nFROMFILE=1\n  SPACED=x y \nB\nUNSET_VAR_XYZ\n")
	labelFile := write("labels", "team=infra\nsolo\n")
	seccomp := write("seccomp.json", "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": []\n}\n")

	cases := [][]string{
		{"create", "busybox"},
		{"create", "--name", "web", "-it", "--rm", "-e", "A=1", "-e", "B", "-e", "A=2", "-e", "C=3", "--env-file", envFile, "--entrypoint", "/bin/sh",
			"-u", "1000:1000", "-w", "/tmp", "-l", "a=b", "--label-file", labelFile, "--hostname", "h1", "busybox", "-c", "echo hi"},
		{"create", "--network", "none", "busybox"},
		{"create", "--network", "host", "busybox", "true"},
		{"create", "--net", "container:abc", "busybox"},
		{"create", "--restart", "on-failure:3", "--init", "--read-only", "--tmpfs", "/run:rw,size=1m", "--tmpfs", "/x",
			"--ulimit", "nofile=1024:2048", "--ulimit", "nproc=10", "--sysctl", "net.ipv4.ip_forward=1", "--cap-add", "NET_ADMIN",
			"--cap-drop", "all", "--privileged", "--security-opt", "seccomp=" + seccomp, "--security-opt", "no-new-privileges", "busybox"},
		{"create", "-m", "512m", "--memory-swap", "1g", "--memory-reservation", "256m", "--cpus", "1.5", "-c", "512",
			"--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--pids-limit", "100", "--blkio-weight", "300", "--oom-kill-disable",
			"--memory-swappiness", "10", "--cpu-period", "100000", "--cpu-quota", "50000", "busybox"},
		{"create", "--memory-swap", "-1", "--pids-limit", "-1", "--init=false", "--restart", "unless-stopped", "busybox"},
		{"create", "--pid", "host", "--ipc", "shareable", "--uts", "host", "--userns", "host", "--cgroupns", "private",
			"--cgroup-parent", "/x", "--shm-size", "128m", "--device", "/dev/null:/dev/xnull:rw", "--device", "/dev/zero",
			"--device-cgroup-rule", "c 1:3 rwm", "--runtime", "runc", "--stop-signal", "SIGINT", "--stop-timeout", "5", "busybox"},
		{"create", "--health-cmd", "true", "--health-interval", "5s", "--health-timeout", "2s", "--health-retries", "3",
			"--health-start-period", "1s", "busybox"},
		{"create", "--no-healthcheck", "--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
			"-a", "stdout", "-a", "STDERR", "busybox"},
		{"create", "-i", "-a", "stdin", "busybox"},
		{"create", "-p", "8080:80", "-p", "127.0.0.1:9000-9001:9000-9001/udp", "-p", "53", "--expose", "7000-7001", "-P",
			"--add-host", "h:1.2.3.4", "--add-host", "g=::1", "--dns", "8.8.8.8", "--dns-search", "example.com",
			"--dns-option", "ndots:1", "busybox"},
		{"create", "-v", "/tmp:/data:ro", "-v", "/anon", "--volumes-from", "other", "--group-add", "audio",
			"--oom-score-adj", "100", "--domainname", "example.com", "--annotation", "k=v", "busybox"},
		{"create", "--mount", "type=bind,src=/tmp,dst=/data,readonly,bind-propagation=rslave", "--mount", "type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770",
			"--mount", "source=vol1,target=/v,volume-nocopy,volume-label=a=b,volume-driver=local,volume-opt=o=bind", "busybox"},
		{"create", "--platform", "linux/amd64", "--security-opt", "systempaths=unconfined", "--entrypoint=", "busybox"},
		// Networking.
		{"create", "--network", "mynet", "--ip", "10.1.2.3", "--network-alias", "web", "--network-alias", "www",
			"--mac-address", "02:42:ac:11:00:02", "busybox"},
		{"create", "--network", "name=mynet,alias=a,alias=b,ip=10.1.2.3,mac-address=02:42:AC:11:00:03,driver-opt=k=v,gw-priority=2",
			"--network", "other", "busybox"},
		{"create", "--network", "first", "--network", "second", "--network-alias", "x", "--ip", "10.9.0.9", "--mac-address", "02:42:ac:11:00:04", "busybox"},
		{"create", "--net", "mynet", "--net-alias", "x", "--link", "c1:alias", "--link", "c2", "busybox"},
		{"create", "--network", "bridge", "--mac-address", "02:42:ac:11:00:02", "--link", "c1", "busybox"},
		{"create", "--ip", "10.1.2.3", "busybox"},
		{"create", "--mac-address", "02:42:ac:11:00:02", "busybox"},
		{"create", "--network", "n", "--ip6", "fd00::5", "--link-local-ip", "169.254.0.5", "--link-local-ip", "fe80::5", "busybox"},
		{"create", "--network", "host", "-p", "80:80", "--hostname", "h", "busybox"},
		{"create", "--network", "container:other", "busybox"},
		{"create", "--hostname", "h.example.com", "--domainname", "d", "--dns", "1.1.1.1", "--dns", "::1", "--dns-search", "a.b",
			"--dns-search", "c.d", "--dns-option", "ndots:2", "--dns-opt", "timeout:1", "--add-host", "gw:host-gateway",
			"--add-host", "v6:[::1]", "--add-host", "six=fd00::1", "busybox"},
		{"create", "-p", "127.0.0.1::80", "-p", "[::1]:8080:80/udp", "-p", "8000-8002:8000-8002", "-p", "9000-9002:80",
			"-p", "0.0.0.0:53:53/udp", "-p", "5000-5001", "-p", "[::]:8443:443", "-p", "7000:7000/sctp", "--expose", "9999/udp",
			"--expose", "6000-6001/tcp", "busybox"},
		{"create", "-p", "8080:80", "-p", "8081:80", "-p", "127.0.0.1:8080:80/udp", "-P", "busybox"},
		{"run", "-d", "--name", "bg", "busybox", "sleep", "10"},
		{"run", "-d", "-t", "-i", "--rm", "busybox"},
	}
	for _, args := range cases {
		d := createDaemon(t)
		_, derr, dcode := runDocker(t, d, args...)
		r := d.berth(args...)
		if dcode != 0 || r.code != 0 {
			t.Errorf("%v: docker exit %d (%s), berth exit %d (%s)", args, dcode, derr, r.code, r.err)
			continue
		}
		sent := d.sent("POST /containers/create")
		if len(sent) != 2 {
			t.Errorf("%v: %d create requests", args, len(sent))
			continue
		}
		if sent[0].Query != sent[1].Query {
			t.Errorf("%v: query: docker %q, berth %q", args, sent[0].Query, sent[1].Query)
		}
		want, got := normalize(t, sent[0].Body), normalize(t, sent[1].Body)
		if !reflect.DeepEqual(want, got) {
			wj, _ := json.MarshalIndent(want, "", " ")
			gj, _ := json.MarshalIndent(got, "", " ")
			t.Errorf("%v: create bodies differ\ndocker:\n%s\nberth:\n%s", args, wj, gj)
		}
		if strings.HasPrefix(args[0], "run") {
			seq := func(from int) []string {
				var s []string
				d.mu.Lock()
				defer d.mu.Unlock()
				n := 0
				for _, r := range d.requests {
					if r.Path == "/_ping" {
						continue
					}
					if r.Path == "/containers/create" {
						n++
					}
					if n == from {
						s = append(s, r.Method+" "+r.Path+"?"+r.Query)
					}
				}
				return s
			}
			if dseq, bseq := seq(1), seq(2); !reflect.DeepEqual(dseq, bseq) {
				t.Errorf("%v: request sequence: docker %v, berth %v", args, dseq, bseq)
			}
		}
	}
}
