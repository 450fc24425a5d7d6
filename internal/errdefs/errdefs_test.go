package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassesSurviveWrapping(t *testing.T) {
	checks := []struct {
		err error
		is  func(error) bool
	}{
		{ErrNotFound, IsNotFound},
		{ErrConflict, IsConflict},
		{ErrInvalidParameter, IsInvalidParameter},
		{ErrUnauthorized, IsUnauthorized},
		{ErrForbidden, IsForbidden},
		{ErrUnavailable, IsUnavailable},
		{ErrNotImplemented, IsNotImplemented},
	}
	for i, c := range checks {
		wrapped := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", c.err))
		if !c.is(wrapped) {
			t.Errorf("%v: class lost through wrapping", c.err)
		}
		for j, other := range checks {
			if i != j && other.is(wrapped) {
				t.Errorf("%v matched class %v", c.err, other.err)
			}
		}
	}
}

func TestAlreadyExistsIsAConflict(t *testing.T) {
	err := fmt.Errorf("blob sha256:abc: %w", ErrAlreadyExists)
	if !IsAlreadyExists(err) || !IsConflict(err) {
		t.Fatal("AlreadyExists must be a Conflict")
	}
	if IsAlreadyExists(fmt.Errorf("x: %w", ErrConflict)) {
		t.Fatal("a plain Conflict is not AlreadyExists")
	}
}

func TestErrorfKeepsMessageAndClass(t *testing.T) {
	cause := errors.New("disk full")
	err := Errorf(ErrNotFound, "No such container: %s (%w)", "web", cause)
	if err.Error() != "No such container: web (disk full)" {
		t.Errorf("message %q", err.Error())
	}
	if !IsNotFound(err) || !errors.Is(err, cause) || IsConflict(err) {
		t.Errorf("classes wrong for %v", err)
	}
	if !IsNotModified(fmt.Errorf("x: %w", ErrNotModified)) {
		t.Error("NotModified lost")
	}
}

func TestMessageDropsTheClassName(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("image x: %w", ErrNotFound), "image x"},
		{fmt.Errorf("pull: %w", fmt.Errorf("registry r: %w", ErrUnavailable)), "pull: registry r"},
		{fmt.Errorf("blob b: %w", ErrAlreadyExists), "blob b: already exists"},
		// Errorf's messages are docker's own words, kept whole.
		{Errorf(ErrNotFound, "No such container: web"), "No such container: web"},
		// A class name that is not the error's class is text.
		{fmt.Errorf("lookup: %w", errors.New("not found")), "lookup: not found"},
		// A bare class keeps its name: there is nothing else to say.
		{ErrConflict, "conflict"},
		{fmt.Errorf("%w", ErrInvalidParameter), "invalid parameter"},
	} {
		if got := Message(c.err); got != c.want {
			t.Errorf("Message(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}
