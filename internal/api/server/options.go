package server

import (
	"log/slog"
	"time"
)

// Option configures a Server.
type Option func(*settings)

// settings are every knob of the server; defaults live in defaults().
type settings struct {
	minVersion, maxVersion string
	logger                 *slog.Logger
	serverHeader           string
	experimental           bool
	builderVersion         string
	shutdownTimeout        time.Duration
	maxJSONBody            int64
	cgroupUnified          *bool
	widen                  func() (release func())
}

// Defaults: the API versions the docker CLI 20.10 (1.41) through 28.2
// (1.50) speak, a 10 MiB cap on JSON bodies (dockerd has none; a create
// request is a few KiB), the legacy builder's version (Berth has no
// BuildKit, and "2" would send the docker CLI looking for buildx).
func defaults() settings {
	return settings{
		minVersion:      "1.24",
		maxVersion:      "1.50",
		logger:          slog.Default(),
		serverHeader:    "Berth (linux)",
		builderVersion:  "1",
		shutdownTimeout: 10 * time.Second,
		maxJSONBody:     10 << 20,
	}
}

// WithAPIVersions sets the oldest and newest API versions served
// (default 1.24 and 1.50); the newest is also the version of unversioned
// requests. An invalid range is ignored, with a warning in the log.
func WithAPIVersions(minVersion, maxVersion string) Option {
	return func(s *settings) {
		if err := validVersionRange(minVersion, maxVersion); err != nil {
			s.logger.Warn("api server: ignoring API versions", "min", minVersion, "max", maxVersion, "error", err)
			return
		}
		s.minVersion, s.maxVersion = minVersion, maxVersion
	}
}

// WithLogger sets the logger (default slog.Default()); requests are logged
// at debug level, server errors (5xx, panics) at error level.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) {
		if l != nil {
			s.logger = l
		}
	}
}

// WithServerHeader sets the Server header of every response, for example
// "Berth/0.4.0 (linux)" (dockerd sends "Docker/28.2.2 (linux)").
func WithServerHeader(value string) Option {
	return func(s *settings) { s.serverHeader = value }
}

// WithExperimental sets the Docker-Experimental header (default false).
func WithExperimental(on bool) Option {
	return func(s *settings) { s.experimental = on }
}

// WithBuilderVersion sets the Builder-Version header of /_ping (default
// "1", the classic builder).
func WithBuilderVersion(v string) Option {
	return func(s *settings) { s.builderVersion = v }
}

// WithShutdownTimeout bounds how long Serve waits, once its context ends,
// for requests in flight (default 10 s); streams end at once.
func WithShutdownTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.shutdownTimeout = d
		}
	}
}

// WithMaxJSONBody caps the size of JSON request bodies (default 10 MiB).
// Streamed bodies (image load and import) have no cap.
func WithMaxJSONBody(n int64) Option {
	return func(s *settings) {
		if n > 0 {
			s.maxJSONBody = n
		}
	}
}

// WithCgroupUnified tells whether the host runs cgroup v2 only; clients
// older than API 1.41 get the cgroup namespace mode "host" by default on
// other hosts, as dockerd gives them. Default: detected from /sys/fs/cgroup.
func WithCgroupUnified(unified bool) Option {
	return func(s *settings) { s.cgroupUnified = &unified }
}

// WithCPUWidening sets what CPU-bound endpoints (pull, push, load, save,
// commit, export, copy) call for their duration: it widens the daemon's
// Go scheduler (gomaxprocs.Width.Widen) and returns its release.
func WithCPUWidening(widen func() (release func())) Option {
	return func(s *settings) { s.widen = widen }
}
