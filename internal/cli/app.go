package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/opts"
	"github.com/berth-project/berth/internal/client"
)

// Option changes how New builds the command.
type Option func(*settings)

type settings struct {
	version   string
	gitCommit string
	buildTime string
	getenv    func(string) string
}

// WithVersion sets the version, commit and build time (RFC 3339) the CLI
// reports (berth version, berth --version, the User-Agent).
func WithVersion(version, gitCommit, buildTime string) Option {
	return func(s *settings) { s.version, s.gitCommit, s.buildTime = version, gitCommit, buildTime }
}

// WithGetenv replaces os.Getenv for the variables the CLI reads
// (BERTH_HOST, DOCKER_HOST, DOCKER_CONFIG, DOCKER_TLS_VERIFY, ...).
func WithGetenv(getenv func(string) string) Option {
	return func(s *settings) { s.getenv = getenv }
}

// app is what every command shares: the streams, the global flags and the
// API client, made on first use once the flags are parsed.
type app struct {
	streams Streams
	set     settings

	hosts     *opts.List
	debug     bool
	logLevel  string
	configDir string
	tls       bool
	tlsVerify bool
	tlsCACert string
	tlsCert   string
	tlsKey    string
	root      *cobra.Command

	api *client.Client
	log *slog.Logger
	cfg *configFile
}

// New returns the berth command tree writing to streams.
func New(streams Streams, opts ...Option) *cobra.Command {
	_, cmd := newApp(streams, opts...)
	return cmd
}

// Main runs berth with args (without the program name) and returns the
// exit status, having printed any error on streams.Err as docker does.
func Main(ctx context.Context, streams Streams, args []string, opts ...Option) int {
	a, cmd := newApp(streams, opts...)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if a.api != nil {
		a.api.Close()
	}
	return exitStatus(streams.Err, err)
}

func exitStatus(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var st StatusError
	if errors.As(err, &st) {
		if st.Status != "" {
			fmt.Fprintln(stderr, st.Status)
		}
		if st.Code == 0 {
			return 1
		}
		return st.Code
	}
	fmt.Fprintln(stderr, err)
	return 1
}

func newApp(streams Streams, opts ...Option) (*app, *cobra.Command) {
	a := &app{streams: streams, set: settings{version: "dev", getenv: os.Getenv}, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&a.set)
	}
	if streams.In == nil {
		a.streams.In = strings.NewReader("")
	}
	cmd := &cobra.Command{
		Use:              "berth [OPTIONS] COMMAND [ARG...]",
		Short:            "A self-sufficient runtime for containers",
		SilenceUsage:     true,
		SilenceErrors:    true,
		TraverseChildren: true,
		Args:             noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion, _ := cmd.Flags().GetBool("version"); showVersion {
				fmt.Fprintf(a.streams.Out, "Berth version %s, build %s\n", a.set.version, a.set.gitCommit)
				return nil
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setUp(cmd) },
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	a.root = cmd
	cmd.SetIn(a.streams.In)
	cmd.SetOut(a.streams.Out)
	cmd.SetErr(a.streams.Err)
	a.globalFlags(cmd)
	setHelp(cmd)
	a.addCommands(cmd)
	return a, cmd
}

func (a *app) globalFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	home, _ := os.UserHomeDir()
	dockerDir := filepath.Join(home, ".docker")
	certDir := dockerDir
	if v := a.set.getenv("DOCKER_CERT_PATH"); v != "" {
		certDir = v
	}
	f.StringVar(&a.configDir, "config", dockerDir, "Location of client config files")
	f.BoolVarP(&a.debug, "debug", "D", false, "Enable debug mode")
	a.hosts = opts.NewList(nil)
	f.VarP(a.hosts, "host", "H", "Daemon socket to connect to")
	f.StringVarP(&a.logLevel, "log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	f.BoolVar(&a.tls, "tls", a.set.getenv("DOCKER_TLS") != "", "Use TLS; implied by --tlsverify")
	f.BoolVar(&a.tlsVerify, "tlsverify", a.set.getenv("DOCKER_TLS_VERIFY") != "", "Use TLS and verify the remote")
	f.StringVar(&a.tlsCACert, "tlscacert", filepath.Join(certDir, "ca.pem"), "Trust certs signed only by this CA")
	f.StringVar(&a.tlsCert, "tlscert", filepath.Join(certDir, "cert.pem"), "Path to TLS certificate file")
	f.StringVar(&a.tlsKey, "tlskey", filepath.Join(certDir, "key.pem"), "Path to TLS key file")
	f.BoolP("version", "v", false, "Print version information and quit")
}

// setUp applies the global flags once they are parsed.
func (a *app) setUp(cmd *cobra.Command) error {
	level := slog.LevelInfo
	switch strings.ToLower(a.logLevel) {
	case "debug":
		level = slog.LevelDebug
	case "info", "":
	case "warn", "warning":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	default:
		return StatusError{Status: fmt.Sprintf("unable to parse logging level: %s", a.logLevel), Code: 1}
	}
	if a.debug {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(a.streams.Err, &slog.HandlerOptions{Level: level}))
	if a.hosts.Len() > 1 {
		return errors.New("specify only one -H")
	}
	rootFlags := a.root.Flags()
	if !rootFlags.Changed("config") {
		if v := a.set.getenv("DOCKER_CONFIG"); v != "" {
			a.configDir = v
		}
	}
	// Default certificate files that do not exist are not an error, as
	// with docker: the connection then goes without them.
	for _, f := range []struct {
		name string
		path *string
	}{{"tlscacert", &a.tlsCACert}, {"tlscert", &a.tlsCert}, {"tlskey", &a.tlsKey}} {
		if !rootFlags.Changed(f.name) {
			if _, err := os.Stat(*f.path); err != nil {
				*f.path = ""
			}
		}
	}
	return nil
}

// client returns the API client, making it on first use.
func (a *app) client() (*client.Client, error) {
	if a.api != nil {
		return a.api, nil
	}
	var host string
	if a.hosts.Len() > 0 {
		host = a.hosts.Values()[0]
	}
	c, err := client.New(client.Options{
		Host: host,
		TLS: client.TLS{
			Enable: a.tls || a.tlsVerify, Verify: a.tlsVerify,
			CACert: a.tlsCACert, Cert: a.tlsCert, Key: a.tlsKey,
		},
		Version: a.set.version,
		Getenv:  a.set.getenv,
	})
	if err != nil {
		return nil, err
	}
	a.api = c
	return c, nil
}
