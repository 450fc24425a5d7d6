package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/daemon/config"
)

// listenAll opens every -H address. A unix socket gets mode 0660 and the
// socket group (when it exists); a socket file left by a daemon that died
// is replaced, one that still answers is another daemon's and is an
// error. tcp:// is served only with TLS and client verification (the
// config refuses anything else).
func listenAll(cfg config.Config, log *slog.Logger) ([]net.Listener, error) {
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			_ = l.Close()
		}
		return nil, err
	}
	for _, h := range cfg.EffectiveHosts() {
		host, err := config.ParseHost(h)
		if err != nil {
			return fail(err)
		}
		var l net.Listener
		switch host.Proto {
		case "unix":
			l, err = listenUnix(host.Addr, cfg.SocketGroup, log)
		case "tcp":
			l, err = listenTLS(host.Addr, cfg)
		}
		if err != nil {
			return fail(err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func listenUnix(path, group string, log *slog.Logger) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("socket %s answers: another daemon serves it", path)
		}
		log.Info("removing a stale socket", "path", path)
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	// The socket is made with no access at all, then opened to the group:
	// no window in which anyone else could connect.
	old := syscall.Umask(0o777)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	gid := 0
	if group != "" {
		if g, err := user.LookupGroup(group); err == nil {
			gid, _ = strconv.Atoi(g.Gid)
		} else {
			log.Debug("socket group does not exist; the socket stays root's", "group", group)
		}
	}
	if err := os.Chown(path, 0, gid); err != nil {
		_ = l.Close()
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

func listenTLS(addr string, cfg config.Config) (net.Listener, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSVerify {
		pem, err := os.ReadFile(cfg.TLSCACert)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TLS CA: no certificate in " + cfg.TLSCACert)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tls.Listen("tcp", addr, tc)
}

// removeSockets deletes the unix sockets at shutdown, so clients get "no
// such file" (is berthd running?) rather than a refused connection.
func removeSockets(cfg config.Config) {
	for _, h := range cfg.EffectiveHosts() {
		if host, err := config.ParseHost(h); err == nil && host.Proto == "unix" {
			_ = os.Remove(host.Addr)
		}
	}
}
