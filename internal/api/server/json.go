package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
)

// checkJSONType accepts a JSON body, or no Content-Type with no body, as
// dockerd's CheckForJSON does.
func checkJSONType(r *request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" && (r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0) {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return invalidf("malformed Content-Type header (%s): %v", ct, err)
	}
	if mt != "application/json" {
		return invalidf("unsupported Content-Type header (%s): must be 'application/json'", ct)
	}
	return nil
}

// readJSON decodes the request's JSON body into out. An absent body is
// not an error (out keeps its zero value); a malformed one, a value of the
// wrong type, trailing content or a body over the size cap is a 400.
func (s *Server) readJSON(w http.ResponseWriter, r *request, out any) error {
	if err := checkJSONType(r); err != nil {
		return err
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.maxJSONBody)
	defer body.Close()
	return decodeJSON(body, out, s.cfg.maxJSONBody)
}

// decodeJSON reads exactly one JSON document from body into out.
func decodeJSON(body io.Reader, out any, limit int64) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(out); err != nil {
		return jsonError(err, limit)
	}
	if dec.More() {
		return invalidf("invalid JSON: unexpected content after JSON")
	}
	// Whitespace after the document is fine; anything else is not.
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		if err == nil {
			return invalidf("invalid JSON: unexpected content after JSON")
		}
		return jsonError(err, limit)
	}
	return nil
}

func jsonError(err error, limit int64) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return invalidf("request body too large: the limit is %d bytes", limit)
	case errors.Is(err, io.EOF):
		return invalidf("invalid JSON: got EOF while reading request body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidf("invalid JSON: unexpected EOF")
	}
	return invalidf("invalid JSON: %v", err)
}

// writeJSON answers with v as JSON, HTML left unescaped as dockerd does.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
