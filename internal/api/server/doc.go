// Package server is Berth's Docker Engine API server: the router, API
// version negotiation, the decoding and validation of every request
// (query parameters, JSON bodies, headers), errdefs classes turned into
// HTTP status codes with docker's {"message": ...} body, hijacked streams
// for attach and exec, stdcopy framing, and the streamed responses (logs,
// events, stats, progress).
//
// Rules of the package:
//   - It talks to the engine only through the interfaces in backend.go,
//     which it declares (the consumer) and internal/daemon satisfies.
//   - Error classes become status codes here and only here (errors.go).
//   - Wire types come from github.com/moby/moby/api; the few shapes older
//     API versions expect and that module no longer has (legacy fields) are
//     added at rendering time (compat.go), never stored.
//   - Hostile input is answered with a 4xx and a clear message, never a
//     panic; a panic in a handler is still recovered, logged, and answered
//     with a 500, and the server keeps serving.
//   - Endpoints of later issues answer 501 (unimplemented.go).
package server
