package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/errdefs"
)

// isMismatch reports whether err says that bytes were not what their
// descriptor declares (content.ErrDigestMismatch or ErrSizeMismatch, both
// errdefs.ErrInvalidParameter): a registry that sent other bytes, or a
// store that holds other bytes, than the digest names.
func isMismatch(err error) bool {
	return errors.Is(err, content.ErrDigestMismatch) || errors.Is(err, content.ErrSizeMismatch)
}

// errRetry marks a failure worth another attempt that is not a network
// error of its own (a stalled body, a Range answered wrongly).
var errRetry = errors.New("transient")

// checkResponse returns nil if resp's status is one of ok, else the
// registry's error (ggcr parses its JSON body) wrapped in its class.
func checkResponse(resp *http.Response, ok ...int) error {
	if err := transport.CheckError(resp, ok...); err != nil {
		return classify(err)
	}
	return nil
}

// classify adds the errdefs class of a registry or network error, keeping
// the error itself for its message and for errors.As.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrUnauthorized, errdefs.ErrForbidden,
		errdefs.ErrInvalidParameter, errdefs.ErrUnavailable, errdefs.ErrNotImplemented, errdefs.ErrConflict} {
		if errors.Is(err, class) {
			return err
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("%w: %w", err, errdefs.ErrUnauthorized)
		case te.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%w: %w", err, errdefs.ErrForbidden)
		case te.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
		case te.Temporary():
			return fmt.Errorf("%w: %w", err, errdefs.ErrUnavailable)
		case te.StatusCode >= 400 && te.StatusCode < 500:
			return fmt.Errorf("%w: %w", err, errdefs.ErrInvalidParameter)
		}
		return fmt.Errorf("%w: %w", err, errdefs.ErrUnavailable)
	}
	// Everything else is the network: the registry could not be reached.
	return fmt.Errorf("%w: %w", err, errdefs.ErrUnavailable)
}

// retryable reports whether err may go away on another attempt: a 5xx, 429
// or 408, a dropped or refused connection, a stalled body. A class the
// registry chose (401, 404, ...), a policy refusal, a certificate problem
// or a digest mismatch will not.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, errRetry) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Temporary()
	}
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrUnauthorized, errdefs.ErrForbidden,
		errdefs.ErrInvalidParameter, errdefs.ErrNotImplemented, errdefs.ErrConflict} {
		if errors.Is(err, class) {
			return false
		}
	}
	// Nobody listening, or no such host: asking again in a second will
	// not change that, and a dead mirror should hand over at once.
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF)
}

// retry runs fn until it succeeds, fails for good, or has failed
// o.retries+1 times, sleeping with jittered exponential backoff between
// attempts.
func (o *options) retry(ctx context.Context, fn func() error) error {
	b := backoff{o: o}
	for {
		err := fn()
		if err == nil || !retryable(err) || b.tries >= o.retries {
			return err
		}
		if err := b.wait(ctx); err != nil {
			return err
		}
	}
}

// backoff counts failed attempts and sleeps between them.
type backoff struct {
	o     *options
	tries int
}

func (b *backoff) wait(ctx context.Context) error {
	d := b.o.backoff << b.tries
	if d > b.o.maxBackoff || d <= 0 {
		d = b.o.maxBackoff
	}
	// Jitter, so parallel transfers that failed together do not retry in
	// lockstep.
	d = d/2 + rand.N(d/2+1)
	b.tries++
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// reset forgets earlier failures, after an attempt made progress.
func (b *backoff) reset() { b.tries = 0 }

// manifestNotFound is a registry's 404 for a manifest, in dockerd's words
// ("manifest for x:1 not found: manifest unknown: manifest unknown"),
// which scripts match: the answer to a HEAD has no body to quote, and
// the request line and client details are noise to a user.
type manifestNotFound struct {
	ref   string
	cause error // of class errdefs.ErrNotFound
}

func (e *manifestNotFound) Error() string {
	return "manifest for " + e.ref + " not found: manifest unknown: " + registryMessage(e.cause, "manifest unknown")
}

func (e *manifestNotFound) Unwrap() error { return e.cause }

// registryMessage is the message of the registry's first error in err's
// body, or def when it sent none.
func registryMessage(err error, def string) string {
	var te *transport.Error
	if errors.As(err, &te) && len(te.Errors) > 0 && te.Errors[0].Message != "" {
		return te.Errors[0].Message
	}
	return def
}
