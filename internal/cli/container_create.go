package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/distribution/reference"
	sdk "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/client"
	"github.com/berth-project/berth/internal/errdefs"
)

// The --pull policies.
const (
	pullMissing = "missing"
	pullAlways  = "always"
	pullNever   = "never"
)

type createOptions struct {
	name     string
	platform string
	pull     string
	quiet    bool
}

func newCreateCommand(a *app) *cobra.Command {
	var o createOptions
	var copts *containerOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			copts.image, copts.args = args[0], args[1:]
			return runCreate(cmd.Context(), a, cmd.Flags(), o, copts)
		},
		Annotations:           map[string]string{"aliases": "berth container create, berth create"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	addCreateFlags(a, f, &o)
	copts = addContainerFlags(f)
	return cmd
}

// addCreateFlags adds the flags create and run share that are not part of
// the container's configuration.
func addCreateFlags(a *app, f *pflag.FlagSet, o *createOptions) {
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringVar(&o.pull, "pull", pullMissing, `Pull image before running ("always", "missing", "never")`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	f.StringVar(&o.platform, "platform", a.set.getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	// An explicit --help without -h, which is --hostname here.
	f.Bool("help", false, "Print usage")
}

func runCreate(ctx context.Context, a *app, flags *pflag.FlagSet, o createOptions, copts *containerOptions) error {
	if err := validatePull(o.pull); err != nil {
		return usageError("create", err)
	}
	cfg, err := parseContainer(flags, copts)
	if err != nil {
		return usageError("create", err)
	}
	id, err := createContainer(ctx, a, cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.streams.Out, id)
	return nil
}

func validatePull(p string) error {
	switch p {
	case pullAlways, pullMissing, pullNever, "":
		return nil
	}
	return fmt.Errorf("invalid pull option: '%s': must be one of %q, %q or %q", p, pullAlways, pullMissing, pullNever)
}

// usageError is docker's report of bad input to run or create: exit 125
// and a pointer to --help.
func usageError(command string, err error) error {
	return StatusError{
		Status: fmt.Sprintf("berth: %s\n\nRun 'berth %s --help' for more information", err, command),
		Code:   125,
		Cause:  err,
	}
}

// createContainer creates the container as docker does: pull first with
// --pull=always, and with the default policy pull when the daemon answers
// that the image is missing, then create again. Warnings go to stderr.
func createContainer(ctx context.Context, a *app, cfg *containerConfig, o createOptions) (string, error) {
	// As docker, about the first loopback --dns only: the container's
	// loopback is not the host's.
	for _, dns := range cfg.HostConfig.DNS {
		if dns.IsLoopback() {
			fmt.Fprintf(a.streams.Err, "WARNING: Localhost DNS (%s) may fail in containers.\n", dns)
			break
		}
	}
	var platform *ocispec.Platform
	if o.platform != "" {
		p, err := parsePlatform(o.platform)
		if err != nil {
			return "", errdefs.Errorf(errdefs.ErrInvalidParameter, "error parsing specified platform: %w", err)
		}
		platform = &p
	}
	cid, err := newCIDFile(cfg.HostConfig.ContainerIDFile)
	if err != nil {
		return "", err
	}
	defer cid.close()

	var named reference.Named
	ref, err := reference.ParseAnyReference(cfg.Config.Image)
	if err != nil {
		return "", err
	}
	if n, ok := ref.(reference.Named); ok {
		named = reference.TagNameOnly(n)
	}
	pull := func() error {
		out := a.streams.Err
		if o.quiet {
			out = nil
		}
		return a.pullImageTo(ctx, cfg.Config.Image, o.platform, out)
	}
	if o.pull == pullAlways {
		if err := pull(); err != nil {
			return "", err
		}
	}
	c, err := a.client()
	if err != nil {
		return "", err
	}
	cfg.HostConfig.ConsoleSize[0], cfg.HostConfig.ConsoleSize[1] = terminalSize(a.streams.Out)
	if err := checkEndpointMACs(apiVersion(ctx, c), cfg.Networking); err != nil {
		return "", err
	}
	create := func() (sdk.ContainerCreateResult, error) {
		return c.ContainerCreate(ctx, sdk.ContainerCreateOptions{
			Name: o.name, Platform: platform, Config: cfg.Config,
			HostConfig: cfg.HostConfig, NetworkingConfig: cfg.Networking,
		})
	}
	res, err := create()
	if err != nil {
		if !errdefs.IsNotFound(client.Classify(err)) || named == nil || o.pull != pullMissing && o.pull != "" {
			return "", err
		}
		if !o.quiet {
			fmt.Fprintf(a.streams.Err, "Unable to find image '%s' locally\n", reference.FamiliarString(named))
		}
		if err := pull(); err != nil {
			return "", err
		}
		if res, err = create(); err != nil {
			return "", err
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.streams.Err, "WARNING:", w)
	}
	return res.ID, cid.write(res.ID)
}

// cidFile is --cidfile: made before the create so a clash fails early,
// removed again if the create fails.
type cidFile struct {
	path    string
	f       *os.File
	written bool
}

func newCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return &cidFile{}, nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil, errors.New("container ID file found, make sure the other container isn't running or delete " + path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return &cidFile{path: path, f: f}, nil
}

func (c *cidFile) write(id string) error {
	if c.f == nil {
		return nil
	}
	if _, err := c.f.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	c.written = true
	return nil
}

func (c *cidFile) close() {
	if c.f == nil {
		return
	}
	c.f.Close()
	if !c.written {
		os.Remove(c.path)
	}
}
