package registrytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// get sends a GET with the given Authorization header (none if empty) and
// returns the status and the WWW-Authenticate challenge.
func get(t *testing.T, rawURL, authorization string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Www-Authenticate")
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

func TestStartRegistryAnonymous(t *testing.T) {
	t.Parallel()
	r := Start(t)
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(r.Host) {
		t.Fatalf("Host = %q, want 127.0.0.1:PORT", r.Host)
	}
	if r.User != "" || r.Password != "" || r.TokenRealm != "" {
		t.Errorf("anonymous registry has credentials %q/%q, realm %q", r.User, r.Password, r.TokenRealm)
	}
	if code, _ := get(t, r.URL()+"/v2/", ""); code != http.StatusOK {
		t.Fatalf("GET /v2/ = %d, want 200", code)
	}
	if got := r.Ref("busybox:latest"); got != r.Host+"/busybox:latest" {
		t.Errorf("Ref = %q", got)
	}
}

func TestStartRegistryHtpasswd(t *testing.T) {
	t.Parallel()
	r := Start(t, WithHtpasswd("alice", "s3cret"))
	if r.User != "alice" || r.Password != "s3cret" {
		t.Fatalf("credentials %q/%q", r.User, r.Password)
	}
	code, challenge := get(t, r.URL()+"/v2/", "")
	if code != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Basic ") {
		t.Fatalf("anonymous GET /v2/ = %d %q, want 401 with a Basic challenge", code, challenge)
	}
	if code, _ := get(t, r.URL()+"/v2/", basic("alice", "wrong")); code != http.StatusUnauthorized {
		t.Errorf("wrong password: GET /v2/ = %d, want 401", code)
	}
	if code, _ := get(t, r.URL()+"/v2/", basic("alice", "s3cret")); code != http.StatusOK {
		t.Errorf("right password: GET /v2/ = %d, want 200", code)
	}
}

// bearerChallenge parses `Bearer realm="...",service="...",scope="..."`.
func bearerChallenge(t *testing.T, h string) map[string]string {
	t.Helper()
	if !strings.HasPrefix(h, "Bearer ") {
		t.Fatalf("challenge %q is not Bearer", h)
	}
	params := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+)="([^"]*)"`).FindAllStringSubmatch(h, -1) {
		params[m[1]] = m[2]
	}
	return params
}

// fetchToken follows a Bearer challenge the way a registry client does.
func fetchToken(t *testing.T, challenge map[string]string, authorization string) (int, string) {
	t.Helper()
	q := url.Values{"service": {challenge["service"]}}
	if s := challenge["scope"]; s != "" {
		q.Set("scope", s)
	}
	req, err := http.NewRequest(http.MethodGet, challenge["realm"]+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, body.Token
}

func TestStartRegistryTokenAuth(t *testing.T) {
	t.Parallel()
	r := Start(t, WithTokenAuth("bob", "hunter2"))
	if r.TokenRealm == "" {
		t.Fatal("no TokenRealm")
	}

	// /v2/ itself: the challenge names our token server.
	code, h := get(t, r.URL()+"/v2/", "")
	if code != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /v2/ = %d, want 401", code)
	}
	ch := bearerChallenge(t, h)
	if ch["realm"] != r.TokenRealm || ch["service"] != tokenService {
		t.Fatalf("challenge %v, want realm %s service %s", ch, r.TokenRealm, tokenService)
	}
	if code, _ := fetchToken(t, ch, basic("bob", "nope")); code != http.StatusUnauthorized {
		t.Errorf("token with a wrong password: %d, want 401", code)
	}
	code, token := fetchToken(t, ch, basic("bob", "hunter2"))
	if code != http.StatusOK || token == "" {
		t.Fatalf("token: %d %q", code, token)
	}
	if code, h := get(t, r.URL()+"/v2/", "Bearer "+token); code != http.StatusOK {
		t.Fatalf("GET /v2/ with the token = %d (%s), want 200; the registry rejected our JWT", code, h)
	}

	// A repository scope: the registry asks for it, the token grants it.
	tags := r.URL() + "/v2/some/repo/tags/list"
	code, h = get(t, tags, "Bearer "+token)
	if code != http.StatusUnauthorized {
		t.Fatalf("tags/list with a /v2/-only token = %d, want 401", code)
	}
	ch = bearerChallenge(t, h)
	if ch["scope"] != "repository:some/repo:pull" {
		t.Fatalf("scope %q", ch["scope"])
	}
	_, token = fetchToken(t, ch, basic("bob", "hunter2"))
	// The repository does not exist: 404 means authorized.
	if code, _ := get(t, tags, "Bearer "+token); code != http.StatusNotFound {
		t.Errorf("tags/list with a pull token = %d, want 404 (authorized, no such repository)", code)
	}

	// Anonymous clients get a token that grants nothing.
	code, anon := fetchToken(t, ch, "")
	if code != http.StatusOK {
		t.Fatalf("anonymous token: %d", code)
	}
	if code, _ := get(t, tags, "Bearer "+anon); code != http.StatusUnauthorized {
		t.Errorf("tags/list with an anonymous token = %d, want 401", code)
	}
	if n := r.TokenRequests(); n != 3 {
		t.Errorf("TokenRequests = %d, want 3", n)
	}
}

func TestStartRegistryParallel(t *testing.T) {
	t.Parallel()
	const n = 4
	// Only registries alive at the same time must differ: once one has
	// stopped, the kernel may hand its port to the next.
	var mu sync.Mutex
	live := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for i := 0; i < n; i++ {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				r := Start(t)
				mu.Lock()
				if live[r.Host] {
					t.Errorf("two live registries on %s", r.Host)
				}
				live[r.Host] = true
				mu.Unlock()
				if code, _ := get(t, r.URL()+"/v2/", ""); code != http.StatusOK {
					t.Errorf("GET /v2/ = %d", code)
				}
				// Forget the host before the port is freed.
				mu.Lock()
				delete(live, r.Host)
				mu.Unlock()
				r.Stop()
			})
		}
	})
}

func TestRegistryLogToTest(t *testing.T) {
	t.Parallel()
	r := Start(t, WithLog())
	if code, _ := get(t, r.URL()+"/v2/", ""); code != http.StatusOK {
		t.Fatalf("GET /v2/ = %d", code)
	}
	r.Stop() // the log goroutine has ended once Stop returns
	if data, _ := os.ReadFile(r.LogPath); len(data) != 0 {
		t.Errorf("the log went to %s too: %q", r.LogPath, data)
	}
}

// BenchmarkStartRegistry measures what a registry costs a test: start,
// first answer on /v2/, and kill.
func BenchmarkStartRegistry(b *testing.B) {
	for b.Loop() {
		Start(b).Stop()
	}
}

func TestRegistryStop(t *testing.T) {
	t.Parallel()
	r := Start(t)
	pid := r.cmd.Process.Pid
	r.Stop()
	r.Stop() // idempotent
	client := &http.Client{Timeout: time.Second}
	if resp, err := client.Get(r.URL() + "/v2/"); err == nil {
		resp.Body.Close()
		t.Fatalf("registry (pid %d) still answers after Stop", pid)
	}
}

func TestRegistryOptionsContradictions(t *testing.T) {
	for name, opts := range map[string][]Option{
		"both schemes":   {WithHtpasswd("a", "b"), WithTokenAuth("a", "b")},
		"empty password": {WithHtpasswd("a", "")},
		"colon in user":  {WithTokenAuth("a:b", "c")},
	} {
		if _, err := makeRegistryOptions(opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLibtrustKeyIDShape(t *testing.T) {
	ts, err := startTokenServer(t.TempDir(), "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	defer ts.close()
	if !regexp.MustCompile(`^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$`).MatchString(ts.kid) {
		t.Errorf("kid %q is not twelve base32 groups of four", ts.kid)
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string]tokenAccess{
		"repository:a/b:pull,push":      {Type: "repository", Name: "a/b", Actions: []string{"pull", "push"}},
		"repository(plugin):x:pull":     {Type: "repository", Class: "plugin", Name: "x", Actions: []string{"pull"}},
		"registry:catalog:*":            {Type: "registry", Name: "catalog", Actions: []string{"*"}},
		"repository:host:5000/img:pull": {Type: "repository", Name: "host:5000/img", Actions: []string{"pull"}},
	} {
		got, ok := parseScope(in)
		if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("parseScope(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	if _, ok := parseScope("nonsense"); ok {
		t.Error("parseScope(nonsense) succeeded")
	}
}
