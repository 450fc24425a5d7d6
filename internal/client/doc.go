// Package client is Berth's Engine API client. It is the official SDK
// (github.com/moby/moby/client) configured the way the docker CLI configures
// it: the daemon is chosen by -H, then BERTH_HOST, then DOCKER_HOST, then
// Berth's own socket; tcp:// hosts speak TLS when asked, with docker's flags
// and files; the API version is negotiated with the daemon on first use.
//
// The SDK reports daemon errors with containerd's error classes and the text
// "Error response from daemon: <message>". Classify turns those into Berth's
// classes (internal/errdefs), keeping the text, so the CLI picks its exit
// codes with errdefs.IsX and never by matching strings.
package client
