package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/errdefs"
)

func resolve(t *testing.T, file string, args ...string) (Config, []string, error) {
	t.Helper()
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	f := AddFlags(fs)
	if file != "" {
		p := filepath.Join(t.TempDir(), "daemon.json")
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config-file", p)
	} else {
		args = append(args, "--config-file", filepath.Join(t.TempDir(), "absent.json"))
		// An explicitly named file that is absent is an error; use the
		// default path's leniency instead.
		args = args[:len(args)-2]
		fs.Lookup("config-file").DefValue = ""
		_ = fs.Set("config-file", "")
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Resolve()
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, _, err := resolve(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataRoot != "/var/lib/berth" || c.ExecRoot != "/run/berth" || !c.LiveRestore ||
		c.DefaultRuntime != "berth" || c.ResourcePrefix != "berth" || c.LogDriver != "json-file" {
		t.Fatalf("defaults: %+v", c)
	}
	if h := c.EffectiveHosts(); len(h) != 1 || h[0] != "unix:///run/berth/berth.sock" {
		t.Fatalf("hosts %v", h)
	}
	if c.EffectiveCgroupParent() != "/berth" {
		t.Fatalf("cgroup parent %q", c.EffectiveCgroupParent())
	}
}

func TestPrecedenceFlagOverFileOverDefault(t *testing.T) {
	t.Parallel()
	file := `{"data-root": "/srv/file", "exec-root": "/run/file", "log-level": "warn",
		"log-opts": {"max-size": "10m", "max-file": "3"}, "live-restore": false,
		"runtimes": {"fast": {"path": "/opt/fast", "runtimeArgs": ["--x"]}}, "ip6tables": false}`
	c, warns, err := resolve(t, file, "--data-root", "/srv/flag", "--log-opt", "max-file=5", "--add-runtime", "other=/opt/other")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataRoot != "/srv/flag" {
		t.Errorf("flag must win: %s", c.DataRoot)
	}
	if c.ExecRoot != "/run/file" || c.LogLevel != "warn" || c.LiveRestore {
		t.Errorf("file must win over default: %+v", c)
	}
	if c.LogOpts["max-size"] != "10m" || c.LogOpts["max-file"] != "5" {
		t.Errorf("log opts merged key by key: %v", c.LogOpts)
	}
	if c.Runtimes["fast"].Path != "/opt/fast" || c.Runtimes["other"].Path != "/opt/other" || c.Runtimes["fast"].Args[0] != "--x" {
		t.Errorf("runtimes: %v", c.Runtimes)
	}
	if c.ResourcePrefix != "berth" {
		t.Errorf("default lost: %q", c.ResourcePrefix)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "ip6tables") {
		t.Errorf("warnings %v", warns)
	}
	// An explicit flag equal to the default still wins over the file.
	c, _, err = resolve(t, `{"live-restore": false}`, "--live-restore=true")
	if err != nil || !c.LiveRestore {
		t.Fatalf("explicit --live-restore=true: %v %v", c.LiveRestore, err)
	}
}

func TestDebug(t *testing.T) {
	t.Parallel()
	c, _, err := resolve(t, `{"debug": true}`)
	if err != nil || c.LogLevel != "debug" {
		t.Fatalf("%q %v", c.LogLevel, err)
	}
	c, _, err = resolve(t, "", "-D")
	if err != nil || c.LogLevel != "debug" {
		t.Fatalf("%q %v", c.LogLevel, err)
	}
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, want string }{
		{`{"data-rot": "/x"}`, "don't match any configuration option: data-rot"},
		{`{"data-root": 5}`, "cannot unmarshal"},
		{`[1,2]`, "unable to configure"},
		{`{"log-level": "loud"}`, `unknown --log-level "loud"`},
	} {
		_, _, err := resolve(t, tc.file)
		if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.file, err, tc.want)
		}
	}
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	f := AddFlags(fs)
	_ = fs.Parse([]string{"--config-file", "/nonexistent/daemon.json"})
	if _, _, err := f.Resolve(); !errdefs.IsNotFound(err) {
		t.Errorf("an explicitly named missing file: %v", err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-H", "tcp://127.0.0.1:2375"}, "only with --tlsverify"},
		{[]string{"-H", "tcp://127.0.0.1:2376", "--tlsverify"}, "TLS needs --tlscacert, --tlscert, --tlskey"},
		{[]string{"-H", "ftp://x"}, "only unix:// and tcp://"},
		{[]string{"-H", "unix://rel/sock"}, "absolute"},
		{[]string{"-H", "/a.sock", "-H", "unix:///a.sock"}, "given twice"},
		{[]string{"--data-root", "relative"}, "absolute"},
		{[]string{"--data-root", "/x", "--exec-root", "/x/run"}, "must not contain each other"},
		{[]string{"--default-runtime", "nope"}, `default runtime "nope"`},
		{[]string{"--add-runtime", "runc=/opt/runc"}, "reserved"},
		{[]string{"--add-runtime", "bad"}, "want name=path"},
		{[]string{"--log-driver", "syslog"}, "unknown --log-driver"},
		{[]string{"--log-opt", "max-file=3"}, "max-file cannot be set when max-size is not set"},
		{[]string{"--log-opt", "max-size=lots"}, "invalid log-opt max-size"},
		{[]string{"--log-opt", "color=blue"}, "unknown log opt 'color'"},
		{[]string{"--storage-driver", "btrfs"}, "unknown --storage-driver"},
		{[]string{"--resource-prefix", "Berth_Test_Prefix"}, "--resource-prefix"},
		{[]string{"--resource-prefix", "berthtest"}, "1 to 6 characters"},
		{[]string{"--cgroup-parent", "/a/../b"}, "--cgroup-parent"},
		{[]string{"--default-ulimit", "nofile=10:5"}, "invalid --default-ulimit"},
		{[]string{"--tls", "--tlscert", "/c", "--tlskey", "/k"}, "no tcp:// host"},
		{[]string{"--bip", "10.1.0.0/24"}, "network or broadcast"},
		{[]string{"--bip", "10.1.0.1"}, "--bip"},
		{[]string{"--bip", "fd00::1/64"}, "--bip"},
		{[]string{"--bip", "10.1.0.1/24", "--bridge", "none"}, "contradict"},
		{[]string{"--bridge", "a-name-longer-than-15"}, "--bridge"},
		{[]string{"--default-address-pool", "base=10.0.0.0/8,size=4"}, "size 4"},
		{[]string{"--default-address-pool", "base=10.0.0.1/8,size=24"}, "not a subnet's first"},
		{[]string{"--default-address-pool", "base=10.0.0.0/8,mask=24"}, "unexpected key"},
		{[]string{"--dns", "dns.example"}, "not an IP address"},
		{[]string{"--mtu", "20"}, "--mtu"},
	} {
		_, _, err := resolve(t, "", tc.args...)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.args, err)
			}
			continue
		}
		if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	good := [][]string{
		{"-H", "tcp://0.0.0.0:2376", "--tlsverify", "--tlscacert", "/ca", "--tlscert", "/c", "--tlskey", "/k", "-H", "unix:///tmp/x.sock"},
		{"--storage-driver", "vfs", "--default-ulimit", "nofile=1024:2048", "--log-opt", "max-size=10m", "--log-opt", "max-file=2"},
		{"--add-runtime", "mine=/opt/mine", "--default-runtime", "mine", "--bridge", "none", "--cgroup-parent", "/custom"},
	}
	for _, args := range good {
		c, _, err := resolve(t, "", args...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
			continue
		}
		_ = c
	}
	c, _, _ := resolve(t, "", "--storage-driver", "vfs", "--default-ulimit", "nofile=1024:2048")
	if c.Snapshotter() != "native" || c.DefaultUlimits["nofile"].Hard != 2048 {
		t.Errorf("storage %q ulimits %v", c.Snapshotter(), c.DefaultUlimits)
	}
}

func TestNetworkSettings(t *testing.T) {
	t.Parallel()
	c, _, err := resolve(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.IPTables || !c.IPForward || !c.UserlandProxy || c.BIP != "" || c.MTU != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	file := `{"bip": "10.9.0.1/24", "dns": ["10.0.0.53"], "dns-search": ["corp"], "dns-opts": ["ndots:2"],
		"default-address-pools": [{"base": "10.10.0.0/16", "size": 24}], "iptables": false, "mtu": 1400,
		"userland-proxy": false, "ip-forward": false}`
	c, warns, err := resolve(t, file, "--dns", "10.0.0.54", "--default-address-pool", "base=10.20.0.0/16,size=26")
	if err != nil || len(warns) != 0 {
		t.Fatalf("%v %v", err, warns)
	}
	if c.BIP != "10.9.0.1/24" || c.IPTables || c.IPForward || c.UserlandProxy || c.MTU != 1400 ||
		len(c.DNS) != 1 || c.DNS[0] != "10.0.0.54" || c.DNSSearch[0] != "corp" || c.DNSOptions[0] != "ndots:2" {
		t.Fatalf("file and flags: %+v", c)
	}
	if len(c.DefaultAddressPools) != 1 || c.DefaultAddressPools[0] != (AddressPool{Base: "10.20.0.0/16", Size: 26}) {
		t.Fatalf("the flag's pools replace the file's: %+v", c.DefaultAddressPools)
	}
	if p, err := ParseBIP("172.18.0.1/16"); err != nil || p.Bits() != 16 {
		t.Fatalf("ParseBIP: %v %v", p, err)
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Host{
		"unix:///run/berth/berth.sock": {"unix", "/run/berth/berth.sock"},
		"/tmp/x.sock":                  {"unix", "/tmp/x.sock"},
		"tcp://127.0.0.1:2376":         {"tcp", "127.0.0.1:2376"},
		"tcp://[::1]:2376":             {"tcp", "[::1]:2376"},
	} {
		got, err := ParseHost(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
}

func TestResolveRuntimes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "berth-runtime")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Runtimes = map[string]Runtime{"mine": {Path: "/opt/mine"}}
	rt, err := c.ResolveRuntimes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rt["berth"].Path != bin || rt["mine"].Path != "/opt/mine" {
		t.Fatalf("%v", rt)
	}
	c.DefaultRuntime = "crun"
	if _, err := c.ResolveRuntimes(dir); err == nil && rt["crun"].Path == "" {
		t.Fatal("a default runtime not found must be an error")
	}
}
