# shellcheck shell=bash
# Sourced by the scripts so that they agree on the toolchain and tool versions.

# Go 1.26 lives in /usr/local/go on our machines; Debian's golang is too old.
PATH="/usr/local/go/bin:$PATH"
# go install puts staticcheck here.
gobin="$(go env GOPATH 2>/dev/null || echo "${HOME:-/root}/go")/bin"
PATH="$gobin:$PATH"
export PATH

# Staticcheck 2026.2.x (v0.8.x) supports Go 1.26.
# shellcheck disable=SC2034 # read by the scripts that source this file
STATICCHECK_VERSION=v0.8.2
