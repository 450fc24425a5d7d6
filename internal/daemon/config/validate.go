package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/berth-project/berth/internal/errdefs"
)

// check is one named validation; Validate runs them all, in order, and
// reports every failure at once.
type check struct {
	name string
	fn   func(*Config) error
}

var checks = []check{
	{"roots", checkRoots},
	{"hosts", checkHosts},
	{"tls", checkTLS},
	{"log-level", checkLogLevel},
	{"runtimes", checkRuntimes},
	{"log-driver", checkLogDriver},
	{"storage-driver", checkStorageDriver},
	{"resource-prefix", checkPrefix},
	{"cgroup-parent", checkCgroupParent},
	{"ulimits", checkUlimits},
	{"shutdown-timeout", checkShutdownTimeout},
	{"shim-hibernate-after", checkShimHibernate},
	{"networking", checkNetworking},
}

// Validate rejects a configuration that contradicts itself or names what
// cannot exist; it touches nothing on disk. The error (of class
// errdefs.ErrInvalidParameter) lists every problem.
func (c *Config) Validate() error {
	var errs []error
	for _, ch := range checks {
		if err := ch.fn(c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ch.name, err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w: %w", errors.Join(errs...), errdefs.ErrInvalidParameter)
}

func checkRoots(c *Config) error {
	for _, p := range []struct{ flag, path string }{{"--data-root", c.DataRoot}, {"--exec-root", c.ExecRoot}} {
		if p.path == "" || !filepath.IsAbs(p.path) {
			return fmt.Errorf("%s %q must be an absolute path", p.flag, p.path)
		}
	}
	d, e := filepath.Clean(c.DataRoot), filepath.Clean(c.ExecRoot)
	if d == e || strings.HasPrefix(d, e+"/") || strings.HasPrefix(e, d+"/") {
		return fmt.Errorf("--data-root %s and --exec-root %s must not contain each other", d, e)
	}
	if c.Pidfile != "" && !filepath.IsAbs(c.Pidfile) {
		return fmt.Errorf("--pidfile %q must be an absolute path", c.Pidfile)
	}
	return nil
}

// Host is a parsed -H address.
type Host struct {
	Proto string // "unix" or "tcp"
	Addr  string // a path, or host:port
}

// ParseHost parses a -H value as dockerd does for the forms Berth serves:
// unix:///path (or a bare absolute path) and tcp://host:port.
func ParseHost(s string) (Host, error) {
	if strings.HasPrefix(s, "/") {
		return Host{Proto: "unix", Addr: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Host{}, fmt.Errorf("invalid host %q: %v", s, err)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if u.Host != "" {
			p = u.Host + p // unix://relative is not a thing, but say so clearly
		}
		if !filepath.IsAbs(p) {
			return Host{}, fmt.Errorf("invalid host %q: the socket path must be absolute", s)
		}
		return Host{Proto: "unix", Addr: p}, nil
	case "tcp":
		if u.Path != "" && u.Path != "/" {
			return Host{}, fmt.Errorf("invalid host %q: a tcp address has no path", s)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			return Host{}, fmt.Errorf("invalid host %q: %v", s, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return Host{}, fmt.Errorf("invalid host %q: bad port %q", s, port)
		}
		return Host{Proto: "tcp", Addr: net.JoinHostPort(host, port)}, nil
	}
	return Host{}, fmt.Errorf("invalid host %q: only unix:// and tcp:// are served", s)
}

func checkHosts(c *Config) error {
	seen := map[Host]bool{}
	for _, h := range c.EffectiveHosts() {
		p, err := ParseHost(h)
		if err != nil {
			return err
		}
		if seen[p] {
			return fmt.Errorf("host %q given twice", h)
		}
		seen[p] = true
	}
	return nil
}

func checkTLS(c *Config) error {
	tcp := false
	for _, h := range c.EffectiveHosts() {
		if p, err := ParseHost(h); err == nil && p.Proto == "tcp" {
			tcp = true
		}
	}
	if tcp && !c.TLSVerify {
		return errors.New("tcp:// hosts are served only with --tlsverify (and --tlscacert, --tlscert, --tlskey): an unauthenticated TCP socket is root on this host for anyone who reaches it")
	}
	if c.TLSVerify || c.TLS {
		var missing []string
		for _, f := range []struct{ flag, v string }{{"--tlscacert", c.TLSCACert}, {"--tlscert", c.TLSCert}, {"--tlskey", c.TLSKey}} {
			if f.v == "" && (f.flag != "--tlscacert" || c.TLSVerify) {
				missing = append(missing, f.flag)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("TLS needs %s", strings.Join(missing, ", "))
		}
		if !tcp {
			return errors.New("--tls/--tlsverify given but no tcp:// host to serve")
		}
	}
	return nil
}

func checkLogLevel(c *Config) error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error", "fatal":
		return nil
	}
	return fmt.Errorf("unknown --log-level %q (debug, info, warn, error, fatal)", c.LogLevel)
}

// runtimeName is what a runtime may be called: it names directories and
// appears in inspect.
var runtimeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func checkRuntimes(c *Config) error {
	for name, r := range c.Runtimes {
		switch {
		case name == RuntimeBerth || name == RuntimeRunc || name == RuntimeCrun:
			return fmt.Errorf("runtime name %q is reserved for the built-in one", name)
		case !runtimeName.MatchString(name):
			return fmt.Errorf("invalid runtime name %q", name)
		case r.Path == "":
			return fmt.Errorf("runtime %q has no path", name)
		}
	}
	switch c.DefaultRuntime {
	case RuntimeBerth, RuntimeRunc, RuntimeCrun:
		return nil
	}
	if _, ok := c.Runtimes[c.DefaultRuntime]; !ok {
		return fmt.Errorf("default runtime %q is not a known runtime (berth, runc, crun, or one given with --add-runtime)", c.DefaultRuntime)
	}
	return nil
}

func checkLogDriver(c *Config) error {
	switch c.LogDriver {
	case "json-file", "local", "none":
	default:
		return fmt.Errorf("unknown --log-driver %q (json-file, local, none)", c.LogDriver)
	}
	return ValidateLogOpts(c.LogDriver, c.LogOpts)
}

// ValidateLogOpts checks a log driver's options as docker's json-file and
// local drivers do; containers' --log-opt go through it too.
func ValidateLogOpts(driver string, opts map[string]string) error {
	if driver == "none" && len(opts) > 0 {
		return errors.New(`log driver "none" takes no options`)
	}
	maxSize := int64(-1)
	for k, v := range opts {
		switch k {
		case "max-size":
			n, err := units.FromHumanSize(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("invalid log-opt max-size %q", v)
			}
			maxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("invalid log-opt max-file %q: max-file cannot be less than 1", v)
			}
		case "compress":
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("invalid log-opt compress %q", v)
			}
		case "labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size":
		default:
			return fmt.Errorf("unknown log opt '%s' for %s log driver", k, driver)
		}
	}
	if v, ok := opts["max-file"]; ok && v != "1" && maxSize < 0 && driver == "json-file" {
		return errors.New("max-file cannot be set when max-size is not set")
	}
	return nil
}

func checkStorageDriver(c *Config) error {
	switch c.StorageDriver {
	case "", "overlay2", "overlay", "native", "vfs":
		return nil
	}
	return fmt.Errorf("unknown --storage-driver %q (overlay2, overlay, native, vfs)", c.StorageDriver)
}

// prefixPattern keeps the prefix short enough for a user network's bridge
// name (the prefix, "-" and 8 hex digits of the network's id within a
// link name's 15 bytes) and safe in cgroup, nftables and file names.
var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,5}$`)

func checkPrefix(c *Config) error {
	if !prefixPattern.MatchString(c.ResourcePrefix) {
		return fmt.Errorf("--resource-prefix %q: 1 to 6 characters of [a-z0-9-], starting with a letter (it starts bridge names, at most 15 bytes)", c.ResourcePrefix)
	}
	return nil
}

func checkCgroupParent(c *Config) error {
	p := c.CgroupParent
	if p == "" {
		return nil
	}
	if strings.Contains(p, "..") || strings.ContainsAny(p, "\x00\n") || strings.HasSuffix(p, ".slice") {
		return fmt.Errorf("--cgroup-parent %q: want a cgroupfs path such as /berth (systemd slices are not supported)", p)
	}
	return nil
}

func checkUlimits(c *Config) error {
	for name, u := range c.DefaultUlimits {
		if u == nil {
			return fmt.Errorf("default ulimit %q is empty", name)
		}
		if u.Name == "" {
			u.Name = name
		}
		if u.Name != name {
			return fmt.Errorf("default ulimit %q is named %q", name, u.Name)
		}
		if _, err := units.ParseUlimit(fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)); err != nil {
			return err
		}
	}
	return nil
}

func checkShimHibernate(c *Config) error {
	_, err := c.ShimHibernate()
	return err
}

// ShimHibernate is ShimHibernateAfter parsed: 0 for never.
func (c *Config) ShimHibernate() (time.Duration, error) {
	if c.ShimHibernateAfter == "" || c.ShimHibernateAfter == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.ShimHibernateAfter)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--shim-hibernate-after %q: want a duration such as 2s, or 0 for never", c.ShimHibernateAfter)
	}
	return d, nil
}

func checkShutdownTimeout(c *Config) error {
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("--shutdown-timeout %d must not be negative", c.ShutdownTimeout)
	}
	return nil
}
