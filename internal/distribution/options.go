package distribution

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/moby/api/types/registry"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// Option configures a Client (New) or a single call (Pull, Push, Login,
// Search). Registry-wide settings (insecure registries, mirrors, user agent,
// timeouts, WithTransport) take effect at New; the others may be given to
// either, and a call's options override the Client's.
type Option func(*options)

// LayerHook is called once per layer, in layer order, as soon as that layer
// and every layer before it are in the content store, so the caller can
// unpack layer i while later layers still download. index counts from 0 over
// the manifest's layers. The hook runs on its own goroutine, one call at a
// time; an error from it cancels the pull and is returned by Pull.
type LayerHook func(ctx context.Context, index int, layer ocispec.Descriptor) error

type options struct {
	// Registry-wide.
	insecure      insecurePolicy
	insecureErr   error
	mirrors       []*url.URL
	mirrorsErr    error
	userAgent     string
	transport     http.RoundTripper // base transport, under the scheme guard
	dialTimeout   time.Duration
	tlsTimeout    time.Duration
	headerTimeout time.Duration
	idleTimeout   time.Duration // no body bytes for this long: the attempt fails and is retried
	retries       int           // attempts after the first, per request, without progress
	backoff       time.Duration // first retry delay, doubling up to maxBackoff
	maxBackoff    time.Duration

	// Per call.
	platform    image.Platform
	platformSet bool
	lease       func(...digest.Digest)
	imageHook   func(context.Context, *PullResult) error
	concurrency int
	layerHook   LayerHook
	progress    chan<- Progress
	auth        *registry.AuthConfig
	keychain    authn.Keychain
	configDir   string
	searchLimit int
	statusLines bool
}

// Defaults, in one place (STYLE rule 8).
const (
	defaultConcurrency   = 3
	defaultDialTimeout   = 30 * time.Second
	defaultTLSTimeout    = 10 * time.Second
	defaultHeaderTimeout = 60 * time.Second
	defaultIdleTimeout   = 60 * time.Second
	defaultRetries       = 5
	defaultBackoff       = 250 * time.Millisecond
	defaultMaxBackoff    = 8 * time.Second
	defaultSearchLimit   = 25
	maxSearchLimit       = 100
)

// makeOptions applies the defaults, then opts, then checks the result.
// Every default of the package is here.
func makeOptions(opts ...Option) (*options, error) {
	o := &options{
		insecure:      defaultInsecurePolicy(),
		userAgent:     "berth/" + buildVersion(),
		dialTimeout:   defaultDialTimeout,
		tlsTimeout:    defaultTLSTimeout,
		headerTimeout: defaultHeaderTimeout,
		idleTimeout:   defaultIdleTimeout,
		retries:       defaultRetries,
		backoff:       defaultBackoff,
		maxBackoff:    defaultMaxBackoff,
		platform:      image.HostPlatform(),
		concurrency:   defaultConcurrency,
		searchLimit:   defaultSearchLimit,
		statusLines:   true,
	}
	for _, opt := range opts {
		opt(o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// validate runs the named checks; each rejects one contradiction.
func (o *options) validate() error {
	checks := []func(*options) error{
		checkInsecure,
		checkMirrors,
		checkConcurrency,
		checkPlatform,
		checkCredentials,
		checkTimeouts,
		checkSearchLimit,
	}
	var errs []error
	for _, check := range checks {
		if err := check(o); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("distribution options: %w: %w", errors.Join(errs...), errdefs.ErrInvalidParameter)
	}
	return nil
}

func checkInsecure(o *options) error { return o.insecureErr }

func checkMirrors(o *options) error {
	if o.mirrorsErr != nil {
		return o.mirrorsErr
	}
	for _, m := range o.mirrors {
		// A plain-HTTP mirror is an insecure registry like any other: it
		// must be configured as one (or be loopback).
		if m.Scheme == "http" && !o.insecure.allows(m.Host) {
			return fmt.Errorf("mirror %s uses plain HTTP but %s is not an insecure registry", m, m.Host)
		}
	}
	return nil
}

func checkConcurrency(o *options) error {
	if o.concurrency < 1 {
		return fmt.Errorf("concurrency %d: must be at least 1", o.concurrency)
	}
	return nil
}

func checkPlatform(o *options) error {
	if o.platform.OS == "" || o.platform.Architecture == "" {
		return fmt.Errorf("platform %q: os and architecture are required", o.platform)
	}
	return nil
}

func checkCredentials(o *options) error {
	if o.auth != nil && o.keychain != nil {
		return errors.New("WithAuth and WithKeychain both given: explicit credentials replace the keychain, so give one")
	}
	if o.keychain != nil && o.configDir != "" {
		return errors.New("WithKeychain and WithConfigDir both given: the config dir is read only by the default keychain")
	}
	return nil
}

func checkTimeouts(o *options) error {
	if o.dialTimeout <= 0 || o.tlsTimeout <= 0 || o.headerTimeout <= 0 || o.idleTimeout <= 0 {
		return errors.New("timeouts must be positive")
	}
	if o.retries < 0 || o.backoff <= 0 || o.maxBackoff < o.backoff {
		return errors.New("retries must be >= 0 and 0 < backoff <= max backoff")
	}
	return nil
}

func checkSearchLimit(o *options) error {
	if o.searchLimit < 1 || o.searchLimit > maxSearchLimit {
		return fmt.Errorf("search limit %d: must be between 1 and %d", o.searchLimit, maxSearchLimit)
	}
	return nil
}

// WithInsecureRegistries lets plain HTTP (and HTTPS without certificate
// checks are NOT implied: only the scheme) be used for the given registries,
// as docker's --insecure-registry: each entry is host, host:port or a CIDR.
// Loopback (127.0.0.0/8, ::1, localhost) is always allowed. A host name is
// matched by name, never resolved.
func WithInsecureRegistries(entries ...string) Option {
	return func(o *options) {
		for _, e := range entries {
			if err := o.insecure.add(e); err != nil {
				o.insecureErr = errors.Join(o.insecureErr, err)
			}
		}
	}
}

// WithMirrors sets docker.io pull-through mirrors (docker's
// --registry-mirror), tried in order before registry-1.docker.io. Each is
// a URL: https://host[:port] or, for an insecure registry, http://.
func WithMirrors(mirrors ...string) Option {
	return func(o *options) {
		for _, m := range mirrors {
			u, err := parseMirror(m)
			if err != nil {
				o.mirrorsErr = errors.Join(o.mirrorsErr, err)
				continue
			}
			o.mirrors = append(o.mirrors, u)
		}
	}
}

func parseMirror(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("mirror %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("mirror %q: scheme must be http or https", s)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("mirror %q: want scheme://host[:port] with no path, query or credentials", s)
	}
	return u, nil
}

// WithUserAgent replaces the User-Agent ("berth/<version>").
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithTransport sets the base HTTP transport (default: an http.Transport
// with the timeouts below). The insecure-registry guard and the user agent
// are applied on top of it, so it cannot bypass the plain-HTTP policy.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithTimeouts sets the dial, TLS handshake and response header timeouts
// (default 30s, 10s, 60s) and the idle timeout of a body download (60s):
// a blob that sends nothing for that long is cut and resumed.
func WithTimeouts(dial, tlsHandshake, responseHeader, idle time.Duration) Option {
	return func(o *options) {
		o.dialTimeout, o.tlsTimeout, o.headerTimeout, o.idleTimeout = dial, tlsHandshake, responseHeader, idle
	}
}

// WithRetries sets how many times a request that failed with a network
// error or a 5xx/429 is retried without progress (default 5), and the first
// backoff delay (default 250ms, doubling up to 8s).
func WithRetries(n int, backoff time.Duration) Option {
	return func(o *options) {
		o.retries, o.backoff = n, backoff
		if o.maxBackoff < backoff {
			o.maxBackoff = backoff
		}
	}
}

// WithPlatform selects the platform to pull from an index (default: the
// host's, image.HostPlatform), with the image store's rules: the platform
// is normalized (x86_64 is amd64, aarch64 is arm64/v8, arm is arm/v7) and
// an entry the platform can run is taken when there is no exact one
// (arm/v6 on arm/v7). Given explicitly, it is also checked against the
// config of an image that has no index, as docker's --platform is.
func WithPlatform(p ocispec.Platform) Option {
	return func(o *options) {
		o.platform = image.PlatformFromOCI(p)
		o.platformSet = true
	}
}

// WithLease has Pull call add with every digest it is about to write or
// rely on (present blobs included), before it does, so that garbage
// collection spares them until the image is recorded: pass the AddContent
// of an image.Lease.
func WithLease(add func(...digest.Digest)) Option { return func(o *options) { o.lease = add } }

// WithImageHook has Pull call hook once the manifest and config are in the
// store and before any layer is fetched, with the result so far (Root,
// Manifest, Config, Layers, Platform, Endpoint): the moment to start an
// unpack (image.Store.NewUnpack) whose Ready the LayerHook then calls. An
// error from hook ends the pull.
func WithImageHook(hook func(ctx context.Context, img *PullResult) error) Option {
	return func(o *options) { o.imageHook = hook }
}

// WithConcurrency sets how many blobs are transferred at once (default 3).
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithLayerHook sets the hook called for each layer, in order, as soon as
// it and all the layers before it are stored (see LayerHook).
func WithLayerHook(h LayerHook) Option { return func(o *options) { o.layerHook = h } }

// WithProgress sends progress events to ch. Sending never blocks a
// transfer: events queue up in memory (consecutive byte counts of one blob
// are merged) while the consumer is slow. Pull and Push return only after
// every event has been delivered (or ctx is done). ch is never closed by
// this package: the caller closes it after the call returns.
func WithProgress(ch chan<- Progress) Option { return func(o *options) { o.progress = ch } }

// WithoutStatusLines stops Pull from sending its closing "Digest: …" and
// "Status: …" lines, for a caller that sends them itself after unpacking,
// and Push from sending its opening "The push refers to repository" line,
// which docker says once for all the tags of a `push --all-tags`.
func WithoutStatusLines() Option { return func(o *options) { o.statusLines = false } }

// WithAuth sets explicit credentials for the reference's registry, replacing
// the keychain: the daemon passes the decoded X-Registry-Auth header of the
// request here (DecodeAuthHeader). Mirrors never receive these credentials.
func WithAuth(ac registry.AuthConfig) Option { return func(o *options) { o.auth = &ac } }

// WithKeychain replaces the default keychain (the docker config file in
// WithConfigDir's directory) with kc.
func WithKeychain(kc authn.Keychain) Option { return func(o *options) { o.keychain = kc } }

// WithConfigDir sets the directory holding the docker config.json whose
// auths, credsStore and credHelpers the default keychain reads (default:
// $DOCKER_CONFIG, else ~/.docker).
func WithConfigDir(dir string) Option { return func(o *options) { o.configDir = dir } }

// WithSearchLimit sets how many results Search returns (default 25, at
// most 100, as the Engine API).
func WithSearchLimit(n int) Option { return func(o *options) { o.searchLimit = n } }

// buildVersion is the module version the binary was built from, for the
// User-Agent; development builds say "dev".
func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// insecurePolicy decides which registries may be reached over plain HTTP.
type insecurePolicy struct {
	hosts    map[string]bool // "host" (any port) or "host:port", lower case
	prefixes []netip.Prefix
}

// defaultInsecurePolicy allows loopback only, as docker does: 127.0.0.0/8
// is in docker's default InsecureRegistryCIDRs, and localhost and ::1 are
// loopback by definition.
func defaultInsecurePolicy() insecurePolicy {
	return insecurePolicy{
		hosts: map[string]bool{"localhost": true},
		prefixes: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		},
	}
}

func (p *insecurePolicy) add(entry string) error {
	e := strings.ToLower(strings.TrimSpace(entry))
	// docker accepts (and strips) a scheme on --insecure-registry.
	e = strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://")
	e = strings.TrimSuffix(e, "/")
	if e == "" {
		return fmt.Errorf("insecure registry %q: empty", entry)
	}
	if strings.Contains(e, "/") {
		pfx, err := netip.ParsePrefix(e)
		if err != nil {
			return fmt.Errorf("insecure registry %q: not a CIDR: %w", entry, err)
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
		return nil
	}
	if u, err := url.Parse("//" + e); err != nil || u.Host != e {
		return fmt.Errorf("insecure registry %q: want host, host:port or CIDR", entry)
	}
	p.hosts[e] = true
	return nil
}

// allows reports whether hostport (a URL's Host: host, host:port,
// [v6]:port) may be reached over plain HTTP. No DNS lookup is made: a name
// is allowed only if it is configured by name (or is localhost).
func (p insecurePolicy) allows(hostport string) bool {
	hostport = strings.ToLower(hostport)
	host := hostport
	// A bare IPv6 address ("::1") would parse as host and port.
	if _, err := netip.ParseAddr(hostport); err != nil {
		if h, _, err := splitHostPort(hostport); err == nil {
			host = h
		}
	}
	if p.hosts[hostport] || p.hosts[host] {
		return true
	}
	addr, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, pfx := range p.prefixes {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// splitHostPort splits host:port, accepting a host without a port.
func splitHostPort(hostport string) (host, port string, err error) {
	u, err := url.Parse("//" + hostport)
	if err != nil {
		return "", "", err
	}
	return u.Hostname(), u.Port(), nil
}
