package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLS is docker's client TLS settings: --tls, --tlsverify, --tlscacert,
// --tlscert and --tlskey.
type TLS struct {
	// Enable speaks TLS to a tcp:// host; Verify implies it.
	Enable bool
	// Verify checks the daemon's certificate against CACert (or the
	// system roots when CACert is empty). Without it the connection is
	// encrypted but the daemon is not authenticated, as docker --tls.
	Verify bool
	// CACert, Cert and Key are PEM files; Cert and Key, when given,
	// authenticate the client to a daemon started with --tlsverify.
	CACert, Cert, Key string
}

func (t TLS) enabled() bool { return t.Enable || t.Verify }

// config builds the tls.Config for t. The minimum version is TLS 1.2, as
// docker's.
func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !t.Verify} //nolint:gosec // docker --tls without --tlsverify does not verify
	if t.Verify && t.CACert != "" {
		pem, err := os.ReadFile(t.CACert)
		if err != nil {
			return nil, fmt.Errorf("could not read CA certificate %q: %w", t.CACert, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("failed to append certificates from PEM file: %q", t.CACert)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.Cert != "" && t.Key != "":
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("could not load X509 key pair: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case t.Cert != "" || t.Key != "":
		return nil, errors.New("both --tlscert and --tlskey must be given")
	}
	return cfg, nil
}
