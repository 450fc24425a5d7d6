// Package errdefs holds Berth's error classes. Every package wraps one of
// these sentinels with context (fmt.Errorf("image %s: %w", ref, ErrNotFound));
// callers test the class with errors.Is or the IsX helpers, never by string.
// Only the API server turns a class into an HTTP status, and only the client
// turns it back.
package errdefs

import (
	"errors"
	"fmt"
	"strings"
)

// The error classes, as in DESIGN.md.
var (
	ErrNotFound         = errors.New("not found")
	ErrConflict         = errors.New("conflict")
	ErrInvalidParameter = errors.New("invalid parameter")
	ErrUnauthorized     = errors.New("unauthorized")
	ErrForbidden        = errors.New("forbidden")
	ErrUnavailable      = errors.New("unavailable")
	ErrNotImplemented   = errors.New("not implemented")
	// ErrNotModified is "nothing to do": starting a running container,
	// stopping a stopped one (HTTP 304 in the Engine API).
	ErrNotModified = errors.New("not modified")

	// ErrAlreadyExists is the Conflict of creating what is already there
	// (a blob, a tag, a snapshot key): IsConflict is true for it too.
	ErrAlreadyExists = fmt.Errorf("already exists: %w", ErrConflict)
)

// IsAlreadyExists reports whether err is of the AlreadyExists kind.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsNotFound reports whether err is of the NotFound class.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is of the Conflict class.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsInvalidParameter reports whether err is of the InvalidParameter class.
func IsInvalidParameter(err error) bool { return errors.Is(err, ErrInvalidParameter) }

// IsUnauthorized reports whether err is of the Unauthorized class.
func IsUnauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }

// IsForbidden reports whether err is of the Forbidden class.
func IsForbidden(err error) bool { return errors.Is(err, ErrForbidden) }

// IsUnavailable reports whether err is of the Unavailable class.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsNotImplemented reports whether err is of the NotImplemented class.
func IsNotImplemented(err error) bool { return errors.Is(err, ErrNotImplemented) }

// IsNotModified reports whether err is of the NotModified class.
func IsNotModified(err error) bool { return errors.Is(err, ErrNotModified) }

// Errorf formats a message exactly as given (so users read docker's own
// wording, "No such container: web") and tags it with a class; %w in the
// format wraps a cause as fmt.Errorf does.
func Errorf(class error, format string, args ...any) error {
	return &classed{err: fmt.Errorf(format, args...), class: class}
}

type classed struct {
	err   error
	class error
}

func (c *classed) Error() string   { return c.err.Error() }
func (c *classed) Unwrap() []error { return []error{c.err, c.class} }

// Wrapf puts docker's own words before err's message ("Cannot kill
// container: web: " + err), formatted as given (capitalized, which
// fmt.Errorf's conventions frown on), and keeps err's class.
func Wrapf(err error, format string, args ...any) error {
	return &classed{err: fmt.Errorf(format+": %w", append(args, err)...), class: err}
}

// classes are the sentinels whose names Message trims. AlreadyExists is
// not one: its "already exists" says something, and its ": conflict" goes.
var classes = []error{
	ErrNotFound, ErrConflict, ErrInvalidParameter, ErrUnauthorized,
	ErrForbidden, ErrUnavailable, ErrNotImplemented, ErrNotModified,
}

// Message is err's text for a user: the error without the name of the
// class it was tagged with by wrapping (fmt.Errorf("image %s: %w", ref,
// ErrNotFound) reads "image x", not "image x: not found"). The class
// travels as the HTTP status; docker's messages do not carry it.
func Message(err error) string {
	msg := err.Error()
	for _, class := range classes {
		if !errors.Is(err, class) {
			continue
		}
		if trimmed, ok := strings.CutSuffix(msg, ": "+class.Error()); ok && trimmed != "" {
			return trimmed
		}
	}
	return msg
}
