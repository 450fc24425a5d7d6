package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/registry"
)

// fakeHelperScript is a credential helper speaking docker's protocol: it
// keeps each server's credentials (the JSON store got) in a file of
// STORE named by the server URL in hex, and appends "action input" to
// STORE/calls.
const fakeHelperScript = `#!/bin/sh
store='STORE'
in=$(cat)
printf '%s %s\n' "$1" "$in" >> "$store/calls"
key() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; printf .cred; }
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2"; }
case "$1" in
store)
	url=$(printf '%s' "$in" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
	printf '%s' "$in" > "$store/$(key "$url")" ;;
get)
	f="$store/$(key "$in")"
	if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase)
	f="$store/$(key "$in")"
	if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
list)
	printf '{'; sep=
	for f in "$store"/*.cred; do
		[ -f "$f" ] || continue
		printf '%s"%s":"%s"' "$sep" "$(field ServerURL "$f")" "$(field Username "$f")"; sep=,
	done
	echo '}' ;;
*)
	echo "unknown action $1"; exit 1 ;;
esac
`

// helperDir is a directory of credential helpers that a test puts first
// on berth's $PATH.
type helperDir struct {
	t   *testing.T
	dir string
}

func newHelperDir(t *testing.T) *helperDir {
	return &helperDir{t: t, dir: t.TempDir()}
}

// path is the $PATH berth (and the docker CLI) get: the helpers first.
func (h *helperDir) path() string { return h.dir + ":/usr/bin:/bin" }

// fake installs docker-credential-<name> as fakeHelperScript and returns
// its store.
func (h *helperDir) fake(name string) *fakeStore {
	h.t.Helper()
	s := &fakeStore{t: h.t, dir: h.t.TempDir()}
	h.install(name, strings.ReplaceAll(fakeHelperScript, "STORE", s.dir))
	return s
}

// failing installs docker-credential-<name> that answers every action
// with msg and exit status 1, as a helper whose keychain is locked does.
func (h *helperDir) failing(name, msg string) {
	h.install(name, "#!/bin/sh\ncat >/dev/null\necho '"+msg+"'\nexit 1\n")
}

func (h *helperDir) install(name, script string) {
	h.t.Helper()
	// No fork while the script is open for writing: a child forked by a
	// parallel test would hold the descriptor until its exec, and running
	// the script meanwhile fails with "text file busy" (golang/go#22315).
	syscall.ForkLock.RLock()
	err := os.WriteFile(filepath.Join(h.dir, credHelperPrefix+name), []byte(script), 0o755)
	syscall.ForkLock.RUnlock()
	if err != nil {
		h.t.Fatal(err)
	}
}

// fakeStore is what a fake helper keeps.
type fakeStore struct {
	t   *testing.T
	dir string
}

// creds returns what the helper holds for server, and whether it does.
func (s *fakeStore) creds(server string) (helperCredentials, bool) {
	s.t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.dir, hex.EncodeToString([]byte(server))+".cred"))
	if os.IsNotExist(err) {
		return helperCredentials{}, false
	}
	if err != nil {
		s.t.Fatal(err)
	}
	var c helperCredentials
	if err := json.Unmarshal(raw, &c); err != nil {
		s.t.Fatalf("helper stored %q: %v", raw, err)
	}
	return c, true
}

// calls returns the actions the helper was run for, in order.
func (s *fakeStore) calls() []string {
	raw, _ := os.ReadFile(filepath.Join(s.dir, "calls"))
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if line != "" {
			action, _, _ := strings.Cut(line, " ")
			out = append(out, action)
		}
	}
	return out
}

// berthPath runs berth against d with PATH (where the helpers are) and
// the config dir cfgDir.
func (d *fakeDaemon) berthPath(path, cfgDir, stdin string, args ...string) result {
	d.t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"BERTH_HOST": d.host, "PATH": path}
	code := Main(context.Background(), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}, append([]string{"--config", cfgDir}, args...),
		WithGetenv(func(k string) string { return env[k] }))
	return result{out.String(), errb.String(), code}
}

// loginDaemon accepts the password "s3cret" for any user, answering
// token as the identity token when it is set.
func loginDaemon(t *testing.T, token string) *fakeDaemon {
	d := newFakeDaemon(t)
	d.handle("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		var req registry.AuthConfig
		json.NewDecoder(r.Body).Decode(&req)
		if req.Password != "s3cret" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "login attempt to " + req.ServerAddress + " failed with status: 401 Unauthorized"})
			return
		}
		writeJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded", IdentityToken: token})
	})
	d.handle("POST /images/create", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"Digest: sha256:1"}` + "\n")) })
	d.handle("POST /images/{name...}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"pushed"}` + "\n")) })
	d.json("GET /images/search", http.StatusOK, []registry.SearchResult{})
	return d
}

// sentAuth decodes the X-Registry-Auth of the last request starting with
// prefix.
func (d *fakeDaemon) sentAuth(prefix string) registry.AuthConfig {
	d.t.Helper()
	reqs := d.sent(prefix)
	if len(reqs) == 0 {
		d.t.Fatalf("no %s request", prefix)
	}
	var ac registry.AuthConfig
	raw, err := base64.URLEncoding.DecodeString(reqs[len(reqs)-1].Header.Get("X-Registry-Auth"))
	if err != nil {
		d.t.Fatalf("X-Registry-Auth: %v", err)
	}
	if err := json.Unmarshal(raw, &ac); err != nil {
		d.t.Fatalf("X-Registry-Auth %q: %v", raw, err)
	}
	return ac
}

func writeConfig(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readConfig returns config.json's bytes and its members.
func readConfig(t *testing.T, dir string) ([]byte, map[string]json.RawMessage) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("config.json %s: %v", raw, err)
	}
	return raw, m
}

// TestCredsStoreLoginPullLogout is a docker user's day with a credential
// helper: login stores through it, leaving only an empty auths entry;
// pull, push and search send what it keeps; logout erases it.
func TestCredsStoreLoginPullLogout(t *testing.T) {
	t.Parallel()
	d := loginDaemon(t, "")
	helpers := newHelperDir(t)
	store := helpers.fake("fake")
	cfgDir := t.TempDir()
	writeConfig(t, cfgDir, `{"credsStore":"fake","proxies":{"default":{"httpProxy":"http://p:3128"}},`+
		`"auths":{"other.example:5000":{"auth":"`+encodeAuth("old", "pw")+`","email":"me@example.com"}}}`)

	r := d.berthPath(helpers.path(), cfgDir, "s3cret\n", "login", "-u", "me", "--password-stdin", "localhost:5000")
	if r.code != 0 || r.out != "Login Succeeded\n" || r.err != "" {
		t.Fatalf("login: %d %q %q", r.code, r.out, r.err)
	}
	if c, ok := store.creds("localhost:5000"); !ok || c != (helperCredentials{ServerURL: "localhost:5000", Username: "me", Secret: "s3cret"}) {
		t.Errorf("helper holds %+v %v", c, ok)
	}
	raw, cfg := readConfig(t, cfgDir)
	if bytes.Contains(raw, []byte("s3cret")) || bytes.Contains(raw, []byte(encodeAuth("me", "s3cret"))) {
		t.Errorf("the secret is in config.json:\n%s", raw)
	}
	var auths map[string]map[string]any
	json.Unmarshal(cfg["auths"], &auths)
	if e, ok := auths["localhost:5000"]; !ok || len(e) != 0 {
		t.Errorf("auths entry %v %v, want {} in\n%s", e, ok, raw)
	}
	if auths["other.example:5000"]["email"] != "me@example.com" || string(cfg["proxies"]) == "" || string(cfg["credsStore"]) != `"fake"` {
		t.Errorf("config.json lost members:\n%s", raw)
	}
	if fi, _ := os.Stat(filepath.Join(cfgDir, "config.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v", fi.Mode())
	}

	if r := d.berthPath(helpers.path(), cfgDir, "", "pull", "-q", "localhost:5000/x"); r.code != 0 {
		t.Fatalf("pull: %d %q %q", r.code, r.out, r.err)
	}
	if ac := d.sentAuth("POST /images/create"); ac.Username != "me" || ac.Password != "s3cret" || ac.ServerAddress != "localhost:5000" {
		t.Errorf("pull sent %+v", ac)
	}
	if r := d.berthPath(helpers.path(), cfgDir, "", "push", "localhost:5000/x:1"); r.code != 0 {
		t.Fatalf("push: %d %q %q", r.code, r.out, r.err)
	}
	if ac := d.sentAuth("POST /images/localhost:5000/x/push"); ac.Username != "me" || ac.Password != "s3cret" {
		t.Errorf("push sent %+v", ac)
	}
	if r := d.berthPath(helpers.path(), cfgDir, "", "search", "localhost:5000/x"); r.code != 0 {
		t.Fatalf("search: %d %q %q", r.code, r.out, r.err)
	}
	if ac := d.sentAuth("GET /images/search"); ac.Username != "me" || ac.Password != "s3cret" {
		t.Errorf("search sent %+v", ac)
	}
	// The credsStore keeps every registry: the old plain entry of another
	// one is not read from the file any more, as with docker.
	if r := d.berthPath(helpers.path(), cfgDir, "", "pull", "-q", "other.example:5000/x"); r.code != 0 {
		t.Fatalf("pull: %d %q %q", r.code, r.out, r.err)
	}
	if ac := d.sentAuth("POST /images/create"); ac != (registry.AuthConfig{}) {
		t.Errorf("pull from a registry the helper does not hold sent %+v", ac)
	}

	r = d.berthPath(helpers.path(), cfgDir, "", "logout", "localhost:5000")
	if r.code != 0 || r.out != "Removing login credentials for localhost:5000\n" || r.err != "" {
		t.Errorf("logout: %d %q %q", r.code, r.out, r.err)
	}
	if _, ok := store.creds("localhost:5000"); ok {
		t.Error("logout left the credentials in the helper")
	}
	raw, cfg = readConfig(t, cfgDir)
	auths = nil
	json.Unmarshal(cfg["auths"], &auths)
	if _, ok := auths["localhost:5000"]; ok {
		t.Errorf("logout left the auths entry:\n%s", raw)
	}
	d.berthPath(helpers.path(), cfgDir, "", "pull", "-q", "localhost:5000/x")
	if ac := d.sentAuth("POST /images/create"); ac.Username != "" || ac.Password != "" {
		t.Errorf("pull after logout sent %+v", ac)
	}
	// Logging out again asks the helper again (only it knows), which
	// holds nothing: not an error.
	if r := d.berthPath(helpers.path(), cfgDir, "", "logout", "localhost:5000"); r.code != 0 || r.err != "" {
		t.Errorf("second logout: %d %q %q", r.code, r.out, r.err)
	}
	want := []string{"store", "get", "get", "get", "get", "erase", "get", "erase"}
	if got := store.calls(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("helper calls %v, want %v", got, want)
	}
}

// TestCredHelpersWinOverCredsStore: credHelpers names the helper of one
// registry; every other one uses credsStore.
func TestCredHelpersWinOverCredsStore(t *testing.T) {
	t.Parallel()
	d := loginDaemon(t, "")
	helpers := newHelperDir(t)
	all, own := helpers.fake("all"), helpers.fake("own")
	cfgDir := t.TempDir()
	writeConfig(t, cfgDir, `{"credsStore":"all","credHelpers":{"localhost:5000":"own"}}`)
	for _, server := range []string{"localhost:5000", "elsewhere:5000"} {
		if r := d.berthPath(helpers.path(), cfgDir, "s3cret\n", "login", "-u", "u-"+server, "--password-stdin", server); r.code != 0 {
			t.Fatalf("login %s: %d %q %q", server, r.code, r.out, r.err)
		}
	}
	if _, ok := own.creds("localhost:5000"); !ok {
		t.Error("credHelpers' helper does not hold localhost:5000")
	}
	if _, ok := all.creds("localhost:5000"); ok {
		t.Error("credsStore's helper holds localhost:5000, which credHelpers names another helper for")
	}
	if _, ok := all.creds("elsewhere:5000"); !ok {
		t.Error("credsStore's helper does not hold elsewhere:5000")
	}
	for _, server := range []string{"localhost:5000", "elsewhere:5000"} {
		d.berthPath(helpers.path(), cfgDir, "", "pull", "-q", server+"/x")
		if ac := d.sentAuth("POST /images/create"); ac.Username != "u-"+server || ac.Password != "s3cret" {
			t.Errorf("pull from %s sent %+v", server, ac)
		}
	}
	// The lookup itself, as pull uses it.
	a, _ := newApp(Streams{Err: new(bytes.Buffer)}, WithGetenv(func(k string) string { return map[string]string{"PATH": helpers.path()}[k] }))
	a.configDir = cfgDir
	ac, err := a.registryAuth(t.Context(), "localhost:5000")
	if err != nil || ac != (registry.AuthConfig{Username: "u-localhost:5000", Password: "s3cret", ServerAddress: "localhost:5000"}) {
		t.Errorf("registryAuth: %+v %v", ac, err)
	}
	creds, err := a.allCredentials(t.Context())
	if err != nil || len(creds) != 2 || creds["elsewhere:5000"].Username != "u-elsewhere:5000" || creds["localhost:5000"].Username != "u-localhost:5000" {
		t.Errorf("allCredentials: %+v %v", creds, err)
	}
}

// TestIdentityToken: a registry's identity token is kept instead of the
// password, in a helper under docker's "<token>" user name, and sent as
// identitytoken.
func TestIdentityToken(t *testing.T) {
	t.Parallel()
	d := loginDaemon(t, "refresh-tok")
	helpers := newHelperDir(t)
	store := helpers.fake("fake")
	withHelper, plain := t.TempDir(), t.TempDir()
	writeConfig(t, withHelper, `{"credsStore":"fake"}`)

	r := d.berthPath(helpers.path(), withHelper, "s3cret\n", "login", "-u", "me", "--password-stdin", "localhost:5000")
	if r.code != 0 || r.err != "" {
		t.Fatalf("login: %d %q %q", r.code, r.out, r.err)
	}
	if c, _ := store.creds("localhost:5000"); c.Username != identityTokenUser || c.Secret != "refresh-tok" {
		t.Errorf("helper holds %+v", c)
	}
	d.berthPath(helpers.path(), withHelper, "", "pull", "-q", "localhost:5000/x")
	if ac := d.sentAuth("POST /images/create"); ac.IdentityToken != "refresh-tok" || ac.Password != "" || ac.Username != "" {
		t.Errorf("pull sent %+v", ac)
	}

	// Without a helper the token is saved in the file, and it is no
	// password: no warning, as with docker.
	r = d.berthPath(helpers.path(), plain, "s3cret\n", "login", "-u", "me", "--password-stdin", "localhost:5000")
	if r.code != 0 || r.err != "" {
		t.Fatalf("login: %d %q %q", r.code, r.out, r.err)
	}
	raw, _ := readConfig(t, plain)
	if !bytes.Contains(raw, []byte(`"identitytoken": "refresh-tok"`)) || bytes.Contains(raw, []byte("s3cret")) {
		t.Errorf("config.json:\n%s", raw)
	}
	d.berthPath(helpers.path(), plain, "", "pull", "-q", "localhost:5000/x")
	if ac := d.sentAuth("POST /images/create"); ac.IdentityToken != "refresh-tok" || ac.Password != "" || ac.Username != "me" {
		t.Errorf("pull sent %+v", ac)
	}
}

// TestPlainLoginWarns: with no helper, the credentials go base64'd into
// config.json and login says so in docker's words, once per change.
func TestPlainLoginWarns(t *testing.T) {
	t.Parallel()
	d := loginDaemon(t, "")
	cfgDir := t.TempDir()
	writeConfig(t, cfgDir, `{"psFormat":"{{.ID}}","unknownKey":[1,2]}`)
	const warning = "\nWARNING! Your credentials are stored unencrypted in '%s'.\n" +
		"Configure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n"
	r := d.berthPath("/usr/bin:/bin", cfgDir, "s3cret\n", "login", "-u", "me", "--password-stdin", "localhost:5000")
	if want := strings.ReplaceAll(warning, "%s", filepath.Join(cfgDir, "config.json")); r.code != 0 || r.out != "Login Succeeded\n" || r.err != want {
		t.Errorf("login: %d %q %q, want the warning %q", r.code, r.out, r.err, want)
	}
	raw, cfg := readConfig(t, cfgDir)
	var unknown []int
	if json.Unmarshal(cfg["unknownKey"], &unknown); len(unknown) != 2 || string(cfg["psFormat"]) != `"{{.ID}}"` {
		t.Errorf("config.json lost members:\n%s", raw)
	}
	if !bytes.Contains(raw, []byte(encodeAuth("me", "s3cret"))) {
		t.Errorf("config.json has no plain auth:\n%s", raw)
	}
	// The same login again changes nothing: no rewrite, no warning.
	r = d.berthPath("/usr/bin:/bin", cfgDir, "s3cret\n", "login", "-u", "me", "--password-stdin", "localhost:5000")
	if r.code != 0 || r.err != "" {
		t.Errorf("second login: %d %q %q", r.code, r.out, r.err)
	}
	// With no credentials given, the saved ones are used.
	r = d.berthPath("/usr/bin:/bin", cfgDir, "", "login", "localhost:5000")
	if r.code != 0 || r.err != "Authenticating with existing credentials... [Username: me]\n\n"+
		" Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n\n" {
		t.Errorf("login with saved credentials: %d %q %q", r.code, r.out, r.err)
	}
}

// TestCredHelperFailures: a helper that fails, or is not installed, makes
// login fail with its message; pull goes on without credentials, saying
// why; logout warns.
func TestCredHelperFailures(t *testing.T) {
	t.Parallel()
	d := loginDaemon(t, "")
	helpers := newHelperDir(t)
	helpers.failing("locked", "keychain is locked")
	cases := []struct {
		helper, loginErr, getErr string
	}{
		{"locked",
			"Error saving credentials: error storing credentials - err: docker-credential-locked store: exit status 1, out: `keychain is locked`\n",
			"WARNING: error getting credentials - err: docker-credential-locked get: exit status 1, out: `keychain is locked`\n"},
		{"missing",
			"Error saving credentials: error storing credentials - err: exec: \"docker-credential-missing\": executable file not found in $PATH, out: ``\n",
			"WARNING: error getting credentials - err: exec: \"docker-credential-missing\": executable file not found in $PATH, out: ``\n"},
	}
	for _, c := range cases {
		cfgDir := t.TempDir()
		cfgText := `{"credsStore":"` + c.helper + `","auths":{"localhost:5000":{}}}`
		writeConfig(t, cfgDir, cfgText)
		r := d.berthPath(helpers.path(), cfgDir, "s3cret\n", "login", "-u", "me", "--password-stdin", "localhost:5000")
		if r.code != 1 || r.out != "" || r.err != c.loginErr {
			t.Errorf("%s: login: %d %q %q, want %q", c.helper, r.code, r.out, r.err, c.loginErr)
		}
		if raw, _ := readConfig(t, cfgDir); string(raw) != cfgText {
			t.Errorf("%s: a failed login changed config.json:\n%s", c.helper, raw)
		}
		r = d.berthPath(helpers.path(), cfgDir, "", "pull", "-q", "localhost:5000/x")
		if r.code != 0 || r.err != c.getErr {
			t.Errorf("%s: pull: %d %q %q, want %q", c.helper, r.code, r.out, r.err, c.getErr)
		}
		if ac := d.sentAuth("POST /images/create"); ac != (registry.AuthConfig{}) {
			t.Errorf("%s: pull sent %+v", c.helper, ac)
		}
		r = d.berthPath(helpers.path(), cfgDir, "", "logout", "localhost:5000")
		wantErr := "WARNING: could not erase credentials:\nlocalhost:5000: " + strings.Replace(strings.Replace(c.getErr, "WARNING: ", "", 1), "getting", "erasing", 1)
		wantErr = strings.Replace(wantErr, " get: ", " erase: ", 1)
		if r.code != 0 || r.out != "Removing login credentials for localhost:5000\n" || r.err != wantErr {
			t.Errorf("%s: logout: %d %q %q, want %q", c.helper, r.code, r.out, r.err, wantErr)
		}
		// The entry stays, so that the logout can be retried.
		if raw, _ := readConfig(t, cfgDir); string(raw) != cfgText {
			t.Errorf("%s: a failed logout changed config.json:\n%s", c.helper, raw)
		}
	}
}

// TestCredHelperProtocol drives the protocol directly against the fake
// helper, list included.
func TestCredHelperProtocol(t *testing.T) {
	t.Parallel()
	helpers := newHelperDir(t)
	helpers.fake("fake")
	var stderr bytes.Buffer
	h := credHelper{program: credHelperPrefix + "fake", path: "relative/dir::" + helpers.path(), stderr: &stderr}
	ctx := t.Context()
	for _, c := range []helperCredentials{
		{ServerURL: indexServer, Username: "hub", Secret: "a:b\"c"},
		{ServerURL: "localhost:5000", Username: identityTokenUser, Secret: "tok"},
	} {
		if err := h.store(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, err := h.get(ctx, c.ServerURL); err != nil || got != c {
			t.Errorf("get %s: %+v %v", c.ServerURL, got, err)
		}
	}
	if _, err := h.get(ctx, "nothing:1"); err != errCredentialsNotFound {
		t.Errorf("get of nothing: %v", err)
	}
	list, err := h.list(ctx)
	if err != nil || len(list) != 2 || list[indexServer] != "hub" || list["localhost:5000"] != identityTokenUser {
		t.Errorf("list: %v %v", list, err)
	}
	if err := h.erase(ctx, indexServer); err != nil {
		t.Fatal(err)
	}
	if err := h.erase(ctx, indexServer); err != nil {
		t.Errorf("erasing what is gone: %v", err)
	}
	if list, err := h.list(ctx); err != nil || len(list) != 1 {
		t.Errorf("list after erase: %v %v", list, err)
	}
	// A helper only in a relative directory of $PATH is not run.
	if _, err := lookPathIn("sh", "bin:usr/bin"); err == nil {
		t.Error("found a program in a relative $PATH entry")
	}
	if stderr.Len() != 0 {
		t.Errorf("helper stderr %q", stderr.String())
	}
}

// TestConfigFileKeptIntact: saving keeps what berth does not know, writes
// through a symlinked config.json, and never replaces a file it could not
// read; an entry saved under a URL by an older CLI is still found.
func TestConfigFileKeptIntact(t *testing.T) {
	t.Parallel()
	dir, target := t.TempDir(), t.TempDir()
	writeConfig(t, target, `{"auths":{"https://legacy.example:5000/v1/":{"auth":"`+encodeAuth("old", "pw")+`","email":"x@y"}},"credsStore":"","HttpHeaders":{"X-A":"b"}}`)
	if err := os.Symlink(filepath.Join(target, "config.json"), filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	cf, err := loadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := fileStore{cf: cf}.get(t.Context(), "legacy.example:5000")
	if err != nil || ac.Username != "old" || ac.Password != "pw" {
		t.Errorf("legacy entry: %+v %v", ac, err)
	}
	if _, err := (fileStore{cf: cf}).store(t.Context(), registry.AuthConfig{ServerAddress: "new:1", Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "config.json")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	raw, cfg := readConfig(t, target)
	if string(cfg["HttpHeaders"]) == "" || !bytes.Contains(raw, []byte(`"email": "x@y"`)) || !bytes.Contains(raw, []byte(encodeAuth("u", "p"))) {
		t.Errorf("config.json:\n%s", raw)
	}

	broken := t.TempDir()
	writeConfig(t, broken, `{"auths": {`)
	a, _ := newApp(Streams{Err: new(bytes.Buffer)}, WithGetenv(func(string) string { return "" }))
	a.configDir = broken
	if _, err := a.credStore("x:1").store(t.Context(), registry.AuthConfig{ServerAddress: "x:1", Username: "u", Password: "p"}); err == nil {
		t.Error("saved over a config.json that could not be read")
	}
	if raw, _ := os.ReadFile(filepath.Join(broken, "config.json")); string(raw) != `{"auths": {` {
		t.Errorf("the unreadable config.json became %q", raw)
	}
}
