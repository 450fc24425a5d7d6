package cli

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/registry"
)

// dockerWithPath runs the real docker CLI against d with the config dir
// cfgDir and $PATH path (where the credential helpers are).
func dockerWithPath(t *testing.T, d *fakeDaemon, path, cfgDir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(dockerCLI, append([]string{"-H", d.host, "--config", cfgDir}, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + path}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// credSession is what one CLI did in a parity case: each step's result
// with the config dir's path replaced by CFG, the credentials the pull
// sent, config.json's auths, and what the helper keeps.
type credSession struct {
	Steps  []result
	Pulled registry.AuthConfig
	Auths  any
	Helper map[string]helperCredentials
}

// TestCredentialsParityWithDocker runs the same login, pull and logout
// with the docker CLI 28 and with berth, each with its own config dir and
// its own copy of the helpers, and compares what they print, send, save
// in config.json and keep in the helper.
func TestCredentialsParityWithDocker(t *testing.T) {
	t.Parallel()
	requireDockerCLI(t)
	login := []string{"login", "-u", "me", "--password-stdin", "localhost:5000"}
	pull := []string{"pull", "-q", "localhost:5000/x"}
	logout := []string{"logout", "localhost:5000"}
	// login with no credentials given uses the saved ones.
	relogin := []string{"login", "localhost:5000"}
	cases := []struct {
		name, config, token string
		steps               [][]string
		// berthOnly rewrites berth's stderr where berth says more than
		// docker on purpose.
		berthOnly func(string) string
	}{
		{name: "no helper", config: `{}`, steps: [][]string{login, pull, login, relogin, logout}},
		{name: "credsStore", config: `{"credsStore":"fake"}`, steps: [][]string{login, pull, relogin, logout, pull}},
		{name: "credHelpers", config: `{"credsStore":"locked","credHelpers":{"localhost:5000":"fake"}}`, steps: [][]string{login, pull, logout}},
		{name: "identity token", config: `{"credsStore":"fake"}`, token: "refresh-tok", steps: [][]string{login, pull, logout}},
		{name: "identity token in the file", config: `{}`, token: "refresh-tok", steps: [][]string{login, pull, logout}},
		{name: "missing helper", config: `{"credsStore":"missing"}`, steps: [][]string{login}},
		// berth names the helper of a failed run; docker gives only the
		// exit status.
		{name: "failing helper", config: `{"credsStore":"locked"}`, steps: [][]string{login},
			berthOnly: func(s string) string { return strings.ReplaceAll(s, "docker-credential-locked store: ", "") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			session := func(run func(d *fakeDaemon, path, cfgDir, stdin string, args ...string) result) credSession {
				d := loginDaemon(t, c.token)
				helpers := newHelperDir(t)
				store := helpers.fake("fake")
				helpers.failing("locked", "keychain is locked")
				cfgDir := t.TempDir()
				writeConfig(t, cfgDir, c.config)
				var s credSession
				for _, step := range c.steps {
					stdin := ""
					if slices.Contains(step, "--password-stdin") {
						stdin = "s3cret\n"
					}
					r := run(d, helpers.path(), cfgDir, stdin, step...)
					r.out, r.err = strings.ReplaceAll(r.out, cfgDir, "CFG"), strings.ReplaceAll(r.err, cfgDir, "CFG")
					s.Steps = append(s.Steps, r)
					if step[0] == "pull" {
						s.Pulled = d.sentAuth("POST /images/create")
					}
				}
				_, cfg := readConfig(t, cfgDir)
				json.Unmarshal(cfg["auths"], &s.Auths)
				s.Helper = map[string]helperCredentials{}
				if c, ok := store.creds("localhost:5000"); ok {
					s.Helper["localhost:5000"] = c
				}
				return s
			}
			docker := session(func(d *fakeDaemon, path, cfgDir, stdin string, args ...string) result {
				return dockerWithPath(t, d, path, cfgDir, stdin, args...)
			})
			berth := session(func(d *fakeDaemon, path, cfgDir, stdin string, args ...string) result {
				return d.berthPath(path, cfgDir, stdin, args...)
			})
			for i := range berth.Steps {
				// Where docker names itself, berth does.
				berth.Steps[i].err = strings.ReplaceAll(berth.Steps[i].err, "'berth ", "'docker ")
				if c.berthOnly != nil {
					berth.Steps[i].err = c.berthOnly(berth.Steps[i].err)
				}
			}
			if !reflect.DeepEqual(docker, berth) {
				t.Errorf("docker:\n%s\nberth:\n%s", dumpSession(docker), dumpSession(berth))
			}
		})
	}
}

func dumpSession(s credSession) string {
	b, _ := json.MarshalIndent(struct {
		Steps  []map[string]any
		Pulled registry.AuthConfig
		Auths  any
		Helper map[string]helperCredentials
	}{stepsOf(s.Steps), s.Pulled, s.Auths, s.Helper}, "", "  ")
	return string(b)
}

func stepsOf(rs []result) []map[string]any {
	var out []map[string]any
	for _, r := range rs {
		out = append(out, map[string]any{"out": r.out, "err": r.err, "code": r.code})
	}
	return out
}
