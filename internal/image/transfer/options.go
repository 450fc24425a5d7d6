package transfer

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image"
)

// Opt configures Pull or Push. Options that make sense for only one of
// them (WithPlatform, WithUnpackOptions: pull only) are refused by the
// other with errdefs.ErrInvalidParameter, rather than silently ignored.
type Opt func(*options)

type options struct {
	platform    ocispec.Platform
	platformSet bool
	auth        *registry.AuthConfig
	progressCh  chan<- jsonstream.Message
	progressW   io.Writer
	dist        []distribution.Option
	unpack      []image.UnpackOpt
}

// WithPlatform pulls the image for p out of an index (docker pull
// --platform). Default: the image store's platform, so that the record
// resolves to what was pulled.
func WithPlatform(p ocispec.Platform) Opt {
	return func(o *options) { o.platform, o.platformSet = p, true }
}

// WithAuth sets the credentials for the reference's registry: the decoded
// X-Registry-Auth header of the request (distribution.DecodeAuthHeader).
func WithAuth(ac registry.AuthConfig) Opt { return func(o *options) { o.auth = &ac } }

// WithProgress sends the progress stream (see the package doc) to ch. The
// caller must keep reading ch until the call returns, and closes it then.
func WithProgress(ch chan<- jsonstream.Message) Opt { return func(o *options) { o.progressCh = ch } }

// WithProgressWriter writes the progress stream to w as the Engine API's
// JSON lines, flushing after each when w is an http.Flusher.
func WithProgressWriter(w io.Writer) Opt { return func(o *options) { o.progressW = w } }

// WithDistributionOptions passes options to the registry client's call
// (concurrency, keychain, retries...). What transfer does itself wins over
// them: the lease, the hooks, the progress and the closing status lines.
func WithDistributionOptions(opts ...distribution.Option) Opt {
	return func(o *options) { o.dist = append(o.dist, opts...) }
}

// WithUnpackOptions passes options to the pull's unpack (a device policy
// or size limit through image.WithApplyOpts). Its progress is the pull's.
func WithUnpackOptions(opts ...image.UnpackOpt) Opt {
	return func(o *options) { o.unpack = append(o.unpack, opts...) }
}

type operation int

const (
	opPull operation = iota
	opPush
)

// makeOptions holds every default of the package (there are none beyond
// the zero values: the registry client and the image store own theirs)
// and refuses options that the operation cannot honour.
func makeOptions(op operation, opts []Opt) (*options, error) {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	var errs []error
	if op == opPush && o.platformSet {
		errs = append(errs, errors.New("WithPlatform: a push sends the image a record names, whatever its platform"))
	}
	if op == opPush && len(o.unpack) > 0 {
		errs = append(errs, errors.New("WithUnpackOptions: a push unpacks nothing"))
	}
	if o.platformSet && (o.platform.OS == "" || o.platform.Architecture == "") {
		errs = append(errs, fmt.Errorf("platform %q: os and architecture are required", image.PlatformFromOCI(o.platform)))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("transfer options: %w: %w", errors.Join(errs...), errdefs.ErrInvalidParameter)
	}
	o.dist = slices.Clip(o.dist)
	return o, nil
}
