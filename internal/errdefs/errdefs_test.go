package errdefs

import (
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
