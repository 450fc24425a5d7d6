package cli

import (
	"net/http"
	"strings"
	"testing"
)

// TestPortAndPsPortsMatchDocker: port's lines and errors and ps's PORTS
// column, from the same daemon answers, as the docker CLI prints them.
func TestPortAndPsPortsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	d := newFakeDaemon(t)
	d.json("GET /containers/{id}/json", http.StatusOK, map[string]any{
		"Id": "4f66ad9a0b2e4f66ad9a0b2e4f66ad9a0b2e4f66ad9a0b2e4f66ad9a0b2e1234", "Name": "/web",
		"State":  map[string]any{"Status": "running", "Running": true},
		"Config": map[string]any{"Image": "busybox"},
		"NetworkSettings": map[string]any{"Ports": map[string]any{
			"80/tcp":   []any{map[string]any{"HostIp": "0.0.0.0", "HostPort": "8080"}, map[string]any{"HostIp": "::", "HostPort": "8080"}},
			"443/tcp":  []any{map[string]any{"HostIp": "127.0.0.1", "HostPort": "8443"}},
			"53/udp":   []any{map[string]any{"HostIp": "", "HostPort": "5353"}},
			"9000/tcp": nil,
			"7/sctp":   []any{map[string]any{"HostIp": "::1", "HostPort": "7007"}},
			"1000/tcp": []any{map[string]any{"HostIp": "0.0.0.0", "HostPort": "1000"}},
			"1001/tcp": []any{map[string]any{"HostIp": "0.0.0.0", "HostPort": "1001"}},
		}},
	})
	d.json("GET /containers/json", http.StatusOK, []any{map[string]any{
		"Id": "4f66ad9a0b2e4f66ad9a0b2e4f66ad9a0b2e4f66ad9a0b2e4f66ad9a0b2e1234", "Names": []string{"/web"}, "Image": "busybox",
		"Command": "sleep", "State": "running", "Status": "Up 1 second",
		"Ports": []any{
			map[string]any{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "0.0.0.0"},
			map[string]any{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "::"},
			map[string]any{"PrivatePort": 8000, "PublicPort": 8000, "Type": "tcp", "IP": "0.0.0.0"},
			map[string]any{"PrivatePort": 8001, "PublicPort": 8001, "Type": "tcp", "IP": "0.0.0.0"},
			map[string]any{"PrivatePort": 8002, "PublicPort": 8002, "Type": "tcp", "IP": "0.0.0.0"},
			map[string]any{"PrivatePort": 9000, "Type": "tcp"},
			map[string]any{"PrivatePort": 9001, "Type": "tcp"},
			map[string]any{"PrivatePort": 9003, "Type": "tcp"},
			map[string]any{"PrivatePort": 53, "PublicPort": 53, "Type": "udp", "IP": "127.0.0.1"},
			map[string]any{"PrivatePort": 53, "Type": "tcp"},
			map[string]any{"PrivatePort": 443, "PublicPort": 32768, "Type": "tcp", "IP": "0.0.0.0"},
			map[string]any{"PrivatePort": 7, "PublicPort": 7, "Type": "sctp", "IP": "::1"},
		},
	}})
	for _, args := range [][]string{
		{"port", "web"},
		{"port", "web", "80"},
		{"port", "web", "80/tcp"},
		{"port", "web", "53/udp"},
		{"port", "web", "53"},
		{"port", "web", "80/TCP"},
		{"port", "web", "9000"},
		{"port", "web", "abc"},
		{"port", "web", "70000/tcp"},
		{"container", "port", "web", "7/sctp"},
		{"ps", "--format", "{{.Ports}}"},
		{"ps"},
		{"ps", "--format", "table {{.Names}}\t{{.Ports}}"},
	} {
		dout, derr, dcode := runDocker(t, d, args...)
		r := d.berth(args...)
		if dout != r.out || dcode != r.code || strings.ReplaceAll(derr, "docker", "berth") != r.err {
			t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", args, dcode, dout, derr, r.code, r.out, r.err)
		}
	}
}
