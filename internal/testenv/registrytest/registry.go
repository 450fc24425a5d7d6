// Package registrytest starts a real registry (Debian's docker-registry) on
// loopback for tests, optionally behind htpasswd or token auth. It lives apart
// from testenv because it needs net/http, and with it cgo's resolver: the
// runtime's integration tests run their own test binary inside a busybox
// rootfs, which only works while that binary stays statically linked.
package registrytest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is where Debian's docker-registry package (the CNCF
// distribution registry, version 2.8) installs the registry server.
const Binary = "/usr/bin/docker-registry"

// registryStartTimeout bounds one start attempt: the registry answers in
// tens of milliseconds on an idle machine, but a loaded CI machine running
// many test binaries at once can be much slower.
const registryStartTimeout = 30 * time.Second

// registryIDHeader is added to every response of a registry Start
// starts, with a value unique to that registry, so that readiness is only
// declared when *our* process answers: the port is picked before the
// registry binds it, and another process could take it in between.
const registryIDHeader = "X-Berth-Test-Registry"

// Registry is a running registry server: Debian's docker-registry binary,
// listening on plain HTTP on a loopback port, storing blobs in a temporary
// directory of its test. It is stopped when the test ends.
//
// Clients must use plain HTTP (go-containerregistry: name.Insecure; skopeo:
// --src-tls-verify=false / --dest-tls-verify=false). When User is set the
// registry refuses anonymous requests; send User and Password as basic
// credentials (with token auth, to the token server named by the registry's
// Bearer challenge, which any OCI client follows by itself).
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of an image reference.
	Host string
	// User and Password are the credentials the registry (or its token
	// server) accepts; both are empty when the registry is anonymous.
	User, Password string
	// Dir is the registry's storage root (distribution's filesystem driver
	// layout: docker/registry/v2/...), for tests that inspect or corrupt
	// what the registry stored.
	Dir string
	// LogPath is the file the registry logs to (unless WithLog
	// streams the log to the test's log instead). Its tail is copied to the
	// test's log when the test fails.
	LogPath string
	// TokenRealm is the URL of the token server when WithTokenAuth is used,
	// and empty otherwise.
	TokenRealm string

	id    string
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd.Wait returns
	logWG sync.WaitGroup
	token *tokenServer
	stop  sync.Once
}

// URL returns the registry's base URL, "http://127.0.0.1:PORT".
func (r *Registry) URL() string { return "http://" + r.Host }

// Ref returns the reference of repo (with an optional ":tag" or "@digest")
// in this registry: Ref("busybox:latest") is "127.0.0.1:PORT/busybox:latest".
func (r *Registry) Ref(repo string) string { return r.Host + "/" + repo }

// TokenRequests returns how many token requests the token server has
// answered with a token (0 without WithTokenAuth), so that tests can check
// that a client caches its tokens.
func (r *Registry) TokenRequests() int {
	if r.token == nil {
		return 0
	}
	return int(r.token.issued.Load())
}

// Stop kills the registry and waits for it to exit. It is safe to call more
// than once; the test's cleanup calls it too. Tests use it to check how a
// client copes with a registry that went away.
func (r *Registry) Stop() {
	r.stop.Do(func() {
		// SIGKILL: the registry keeps nothing in memory that a test needs
		// flushed, and a graceful drain only slows every test down.
		_ = r.cmd.Process.Kill()
		<-r.done
		r.logWG.Wait()
	})
}

// Option configures Start.
type Option func(*registryOptions)

type registryOptions struct {
	htpasswd   bool
	tokenAuth  bool
	user, pass string
	logToTest  bool
}

// WithHtpasswd makes the registry require HTTP basic authentication with
// user and pass, checked against a bcrypt htpasswd file, as a registry
// configured with `auth: htpasswd:` does.
func WithHtpasswd(user, pass string) Option {
	return func(o *registryOptions) {
		o.htpasswd = true
		o.user, o.pass = user, pass
	}
}

// WithTokenAuth makes the registry require a Bearer token, as Docker Hub
// and most hosted registries do. Start also starts a token server
// (see TokenRealm) that issues tokens for every requested scope to clients
// that present user and pass as basic credentials, tokens that grant
// nothing to anonymous clients, and 401 to wrong credentials.
//
// The registry trusts the token server through distribution's
// `auth: token:` configuration (realm, service, issuer, rootcertbundle): the
// token server signs ES256 JWTs with a key whose self-signed certificate is
// the registry's root bundle, and names the key in the JWT header's "kid"
// as distribution 2.8 expects: the libtrust key ID of the public key.
func WithTokenAuth(user, pass string) Option {
	return func(o *registryOptions) {
		o.tokenAuth = true
		o.user, o.pass = user, pass
	}
}

// WithLog streams the registry's log into the test's log as it is
// written, rather than into Registry.LogPath.
func WithLog() Option {
	return func(o *registryOptions) { o.logToTest = true }
}

// makeRegistryOptions applies opts and rejects contradictions, so every
// default and rule lives in one place.
func makeRegistryOptions(opts []Option) (registryOptions, error) {
	var o registryOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.htpasswd && o.tokenAuth {
		return o, errors.New("WithHtpasswd and WithTokenAuth exclude each other: a registry has one auth scheme")
	}
	if (o.htpasswd || o.tokenAuth) && (o.user == "" || o.pass == "") {
		return o, errors.New("an authenticating registry needs a non-empty user and password")
	}
	if strings.Contains(o.user, ":") {
		return o, fmt.Errorf("user %q contains a colon, which basic authentication cannot carry", o.user)
	}
	return o, nil
}

// Start starts Debian's docker-registry (distribution 2.8) on a free
// loopback port, storing in a t.TempDir, with deletes enabled and redirects
// disabled, and returns once the registry answers /v2/. The registry is
// killed when the test ends. Each call starts its own registry, so parallel
// tests never share one.
//
// It fails t, with the fix, when the binary is missing.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	o, err := makeRegistryOptions(opts)
	if err != nil {
		t.Fatalf("testenv: Start: %v", err)
	}
	if fi, err := os.Stat(Binary); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("testenv: no registry binary at %s: apt-get install docker-registry (scripts/setup.sh does)", Binary)
	}

	dir := t.TempDir()
	r := &Registry{
		User:     o.user,
		Password: o.pass,
		Dir:      filepath.Join(dir, "storage"),
		LogPath:  filepath.Join(dir, "registry.log"),
	}
	if err := os.Mkdir(r.Dir, 0o700); err != nil {
		t.Fatalf("testenv: Start: %v", err)
	}
	auth := map[string]any{}
	switch {
	case o.htpasswd:
		path, err := writeHtpasswd(dir, o.user, o.pass)
		if err != nil {
			t.Fatalf("testenv: Start: %v", err)
		}
		auth["htpasswd"] = map[string]any{"realm": "berth-test", "path": path}
	case o.tokenAuth:
		ts, err := startTokenServer(dir, o.user, o.pass)
		if err != nil {
			t.Fatalf("testenv: Start: token server: %v", err)
		}
		// Registered before the registry's own cleanup, so it runs after it:
		// the registry never sees its token server vanish.
		t.Cleanup(ts.close)
		r.token = ts
		r.TokenRealm = ts.realm
		auth["token"] = map[string]any{
			"realm":          ts.realm,
			"service":        tokenService,
			"issuer":         tokenIssuer,
			"rootcertbundle": ts.certPath,
		}
	}

	// The port is chosen by binding :0 and closing, then handed to the
	// registry, which has no way to inherit a listener. Another process
	// can grab the port in between; the registry then exits (or someone
	// else answers without our ID header), and we try a new port.
	const attempts = 5
	var errs []error
	start := time.Now()
	for i := 0; i < attempts; i++ {
		err := r.start(t, dir, auth, o.logToTest)
		if err == nil {
			t.Logf("testenv: registry %s started in %v (storage %s)", r.Host, time.Since(start).Round(time.Millisecond), r.Dir)
			return r
		}
		errs = append(errs, err)
		if !errors.Is(err, errRetry) {
			break
		}
	}
	t.Fatalf("testenv: Start: %v\n%s", errors.Join(errs...), r.logTail(40))
	return nil
}

// errRetry marks a start attempt that failed in a way a new port may fix.
var errRetry = errors.New("retrying on another port")

func (r *Registry) start(t testing.TB, dir string, auth map[string]any, logToTest bool) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	r.id = hex.EncodeToString(idb[:])
	r.Host = fmt.Sprintf("127.0.0.1:%d", port)

	cfg := map[string]any{
		"version": "0.1",
		"log": map[string]any{
			"level":     "info",
			"formatter": "text",
			"fields":    map[string]any{"service": "registry", "registry": r.Host},
		},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": r.Dir},
			"delete":     map[string]any{"enabled": true},
			// Blobs must come from the registry itself: there is no
			// storage backend that could redirect.
			"redirect": map[string]any{"disable": true},
			// The purger walks the storage in the background minutes after
			// start; it only adds noise and disk traffic to a test.
			"maintenance": map[string]any{"uploadpurging": map[string]any{"enabled": false}},
		},
		"http": map[string]any{
			"addr": r.Host,
			// A fixed secret: without one the registry logs a warning and
			// generates its own, which is just as good but noisier.
			"secret":  r.id,
			"headers": map[string]any{registryIDHeader: []string{r.id}},
		},
		"health": map[string]any{"storagedriver": map[string]any{"enabled": false}},
	}
	if len(auth) > 0 {
		cfg["auth"] = auth
	}
	// distribution parses its config as YAML, of which JSON is a subset:
	// encoding/json quotes every path and value correctly for free.
	cfgJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o600); err != nil {
		return err
	}

	cmd := exec.Command(Binary, "serve", cfgPath)
	cmd.Env = registryEnv()
	// Should the test binary die without running its cleanups, the registry
	// dies with it instead of keeping a port and a temp dir busy.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logFile, err := os.OpenFile(r.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own descriptor
	var logPipe io.ReadCloser
	if logToTest {
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = pw, pw
		logPipe = pr
		defer pw.Close()
	} else {
		cmd.Stdout, cmd.Stderr = logFile, logFile
	}
	if err := cmd.Start(); err != nil {
		if logPipe != nil {
			logPipe.Close()
		}
		return fmt.Errorf("start %s: %w", Binary, err)
	}
	r.cmd = cmd
	r.done = make(chan struct{})
	r.stop = sync.Once{}
	if logPipe != nil {
		r.logWG.Add(1)
		go func() {
			defer r.logWG.Done()
			defer logPipe.Close()
			s := bufio.NewScanner(logPipe)
			s.Buffer(make([]byte, 64<<10), 1<<20)
			for s.Scan() {
				// Safe after the test body returns: Stop, run by a cleanup,
				// waits for this goroutine before the test completes.
				t.Log("registry: " + s.Text())
			}
		}()
	}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()

	if err := r.waitReady(); err != nil {
		r.Stop()
		return err
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() && !logToTest {
			t.Logf("testenv: registry %s log (last lines of %s):\n%s", r.Host, r.LogPath, r.logTail(40))
		}
	})
	return nil
}

// waitReady polls /v2/ until our registry answers. The registry announces
// readiness by no other means: it logs "listening on" just before it
// accepts, but a log line is a poorer contract than the API itself.
func (r *Registry) waitReady() error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(registryStartTimeout)
	delay := 2 * time.Millisecond
	for {
		select {
		case <-r.done:
			return fmt.Errorf("registry on %s exited during startup (%v): %w", r.Host, r.cmd.ProcessState, errRetry)
		default:
		}
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get(registryIDHeader) == r.id {
				return nil
			}
			// Someone else owns the port; ours will fail to bind and exit.
			return fmt.Errorf("another server answers on %s: %w", r.Host, errRetry)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry on %s did not answer /v2/ within %v: %v", r.Host, registryStartTimeout, err)
		}
		time.Sleep(delay)
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// logTail returns the last n lines of the registry's log file.
func (r *Registry) logTail(n int) string {
	data, err := os.ReadFile(r.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// registryEnv is the test's environment without REGISTRY_* variables, which
// distribution reads as overrides of its config file (REGISTRY_HTTP_ADDR
// and so on): a developer's shell must not change what the tests run.
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// writeHtpasswd writes an htpasswd file with one bcrypt entry. MinCost
// because the registry checks the hash on every request: at the default
// cost each request would spend ~50ms in bcrypt.
func writeHtpasswd(dir, user, pass string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "htpasswd")
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s:%s\n", user, hash)
	return path, os.WriteFile(path, b.Bytes(), 0o600)
}
