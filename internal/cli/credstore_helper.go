package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// credHelperPrefix is the name every credential helper program starts
// with; config.json names a helper by the rest ("pass", "secretservice").
// The protocol fixes it, so it stays "docker-" for berth too.
const credHelperPrefix = "docker-credential-"

// errCredentialsNotFound is a helper's answer to get for a server it holds
// nothing for.
var errCredentialsNotFound = errors.New("credentials not found in native keychain")

// helperCredentials is the protocol's JSON for one server's credentials
// (docker-credential-helpers' credentials.Credentials).
type helperCredentials struct {
	ServerURL string
	Username  string
	Secret    string
}

// credHelper runs a credential helper program. The protocol is one
// action per process: the action is the only argument, its input comes
// on stdin, its answer (or its error message) on stdout with exit status
// 1 for an error; stderr is the user's.
type credHelper struct {
	program string
	// path is the $PATH the helper is looked up in.
	path   string
	stderr io.Writer
}

// store saves creds ("store": the credentials as JSON in).
func (h credHelper) store(ctx context.Context, creds helperCredentials) error {
	in, err := json.Marshal(creds)
	if err != nil {
		return err
	}
	if out, err := h.run(ctx, "store", bytes.NewReader(append(in, '\n'))); err != nil {
		return fmt.Errorf("error storing credentials - err: %w, out: `%s`", err, out)
	}
	return nil
}

// get returns the credentials of serverURL ("get": the URL in, JSON out),
// or errCredentialsNotFound.
func (h credHelper) get(ctx context.Context, serverURL string) (helperCredentials, error) {
	out, err := h.run(ctx, "get", strings.NewReader(serverURL))
	if err != nil {
		if out == errCredentialsNotFound.Error() {
			return helperCredentials{}, errCredentialsNotFound
		}
		return helperCredentials{}, fmt.Errorf("error getting credentials - err: %w, out: `%s`", err, out)
	}
	creds := helperCredentials{ServerURL: serverURL}
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		return helperCredentials{}, fmt.Errorf("error getting credentials - %s answered %q: %w", h.program, out, err)
	}
	return creds, nil
}

// erase forgets serverURL ("erase": the URL in). A helper that holds
// nothing for it is not an error.
func (h credHelper) erase(ctx context.Context, serverURL string) error {
	out, err := h.run(ctx, "erase", strings.NewReader(serverURL))
	if err != nil && out != errCredentialsNotFound.Error() {
		return fmt.Errorf("error erasing credentials - err: %w, out: `%s`", err, out)
	}
	return nil
}

// list returns the server URLs the helper holds, with their user names
// ("list": JSON object out).
func (h credHelper) list(ctx context.Context) (map[string]string, error) {
	out, err := h.run(ctx, "list", strings.NewReader("unused"))
	if err != nil {
		return nil, fmt.Errorf("error listing credentials - err: %w, out: `%s`", err, out)
	}
	var servers map[string]string
	if err := json.Unmarshal([]byte(out), &servers); err != nil {
		return nil, fmt.Errorf("error listing credentials - %s answered %q: %w", h.program, out, err)
	}
	return servers, nil
}

// run runs the helper for one action and returns its trimmed stdout. A
// failed run's error names the program and the action; a program that is
// not on $PATH gives exec's own error, which names it too and is docker's
// wording.
func (h credHelper) run(ctx context.Context, action string, in io.Reader) (string, error) {
	bin, err := lookPathIn(h.program, h.path)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, action)
	cmd.Stdin = in
	cmd.Stderr = h.stderr
	out, err := cmd.Output()
	trimmed := strings.TrimSpace(string(out))
	if err != nil {
		return trimmed, fmt.Errorf("%s %s: %w", h.program, action, err)
	}
	return trimmed, nil
}

// lookPathIn finds program in the directories of pathList (a $PATH) as
// exec.LookPath does in the process's own, so that the CLI's environment
// (which tests replace) decides. Relative directories are skipped: a
// credential helper must not be picked up from the working directory.
func lookPathIn(program, pathList string) (string, error) {
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, program)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: program, Err: exec.ErrNotFound}
}
