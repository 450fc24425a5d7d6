package server

import (
	"encoding/json"
	"net/http"

	"github.com/berth-project/berth/internal/errdefs"
)

// statusFor is the one place where an error class becomes an HTTP status,
// with the codes dockerd uses. An error of no class is the server's fault.
func statusFor(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errdefs.IsNotModified(err):
		return http.StatusNotModified
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidParameter(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err):
		return http.StatusConflict
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	case errdefs.IsForbidden(err):
		return http.StatusForbidden
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// errorBody is docker's error response.
type errorBody struct {
	Message string `json:"message"`
}

// writeError answers err with its status and docker's JSON body; a 304
// has no body (HTTP forbids one, and docker sends none).
func writeError(w http.ResponseWriter, err error) {
	status := statusFor(err)
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Message: errdefs.Message(err)})
}

// invalidf is an InvalidParameter error with the given message.
func invalidf(format string, args ...any) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, format, args...)
}

// notImplementedf is a NotImplemented error with the given message.
func notImplementedf(format string, args ...any) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, format, args...)
}
