package client

import (
	"net/http"
	"os"
	"runtime"

	sdk "github.com/moby/moby/client"
)

// Options choose the daemon and how to reach it. The zero value talks to
// the daemon named by the environment, or DefaultHost, without TLS.
type Options struct {
	// Host is the -H flag; "" selects by the environment (SelectHost).
	Host string
	// TLS applies to tcp:// hosts only.
	TLS TLS
	// Version is the client's version, sent in the User-Agent.
	Version string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Client is the SDK's client plus the address it was made for. Every SDK
// method is available on it; pass the errors they return through Classify.
type Client struct {
	*sdk.Client
	host string
}

// New makes a client for the daemon opts select. It does not connect: the
// first request pings the daemon and settles the API version.
func New(opts Options) (*Client, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	host, err := NormalizeHost(SelectHost(opts.Host, getenv), opts.TLS.enabled())
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{}
	// The SDK guesses the scheme from the transport, which a cloned
	// transport confuses; say it.
	scheme := "http"
	if opts.TLS.enabled() && !isUnix(host) {
		cfg, err := opts.TLS.config()
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = cfg
		scheme = "https"
	}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	sdkOpts := []sdk.Opt{
		// The HTTP client goes first: WithHost configures its transport's
		// dialer for the host's protocol, keeping our TLS settings.
		sdk.WithHTTPClient(&http.Client{Transport: transport, CheckRedirect: sdk.CheckRedirect}),
		sdk.WithHost(host),
		sdk.WithScheme(scheme),
		sdk.WithUserAgent("Berth-Client/" + version + " (" + runtime.GOOS + ")"),
	}
	// As with docker, DOCKER_API_VERSION pins the version and turns
	// negotiation off (for debugging against an older daemon).
	if v := getenv(sdk.EnvOverrideAPIVersion); v != "" {
		sdkOpts = append(sdkOpts, sdk.WithAPIVersion(v))
	}
	c, err := sdk.New(sdkOpts...)
	if err != nil {
		return nil, err
	}
	return &Client{Client: c, host: host}, nil
}

// Host is the normalized address of the daemon this client talks to.
func (c *Client) Host() string { return c.host }

func isUnix(host string) bool { return len(host) >= 7 && host[:7] == "unix://" }
