package cli

import "fmt"

// StatusError ends the command with an exit code. Status, when set, is
// printed on stderr first; run uses a bare code to pass on a container's
// exit status without a message.
type StatusError struct {
	Status string
	Code   int
	Cause  error
}

func (e StatusError) Error() string {
	if e.Status != "" {
		return e.Status
	}
	if e.Cause != nil {
		return e.Cause.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e StatusError) Unwrap() error { return e.Cause }
