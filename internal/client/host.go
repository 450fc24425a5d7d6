package client

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultHost is berthd's socket, used when neither -H nor the environment
// names a daemon.
const DefaultHost = "unix:///run/berth/berth.sock"

// The environment variables that name the daemon, in order of precedence.
// DOCKER_HOST is honoured so that scripts written for docker keep working.
const (
	EnvHost       = "BERTH_HOST"
	EnvDockerHost = "DOCKER_HOST"
)

// Docker's default ports for a tcp:// host without one.
const (
	defaultHTTPPort  = "2375"
	defaultHTTPSPort = "2376"
)

// SelectHost returns the daemon address to use: the flag if given, else
// BERTH_HOST, else DOCKER_HOST, else DefaultHost. getenv is os.Getenv in
// production and a map lookup in tests.
func SelectHost(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	for _, name := range []string{EnvHost, EnvDockerHost} {
		if v := getenv(name); v != "" {
			return v
		}
	}
	return DefaultHost
}

// NormalizeHost checks a host address the way the docker CLI does and fills
// in what may be left out: "tcp://h" gets port 2375 (2376 with TLS), a bare
// "h:p" is taken as tcp, and "unix://" alone means DefaultHost's path.
func NormalizeHost(host string, tls bool) (string, error) {
	host = strings.TrimSpace(host)
	if host == "" {
		return DefaultHost, nil
	}
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		proto, addr = "tcp", host
	}
	switch proto {
	case "unix":
		if addr == "" {
			return DefaultHost, nil
		}
		return "unix://" + addr, nil
	case "tcp", "http", "https":
		u, err := url.Parse("tcp://" + addr)
		if err != nil {
			return "", fmt.Errorf("invalid bind address format: %s", host)
		}
		hostname, port := u.Hostname(), u.Port()
		if hostname == "" {
			hostname = "localhost"
		}
		if port == "" {
			port = defaultHTTPPort
			if tls || proto == "https" {
				port = defaultHTTPSPort
			}
		}
		path := strings.TrimSuffix(u.Path, "/")
		return "tcp://" + net.JoinHostPort(hostname, port) + path, nil
	default:
		return "", fmt.Errorf("invalid bind address format: %s", host)
	}
}
