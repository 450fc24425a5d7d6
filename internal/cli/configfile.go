package cli

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// configFile is the part of docker's ~/.docker/config.json berth uses.
// Saving rewrites only "auths" and keeps every other member as it was, so
// berth and docker can share the file.
type configFile struct {
	path string
	raw  map[string]json.RawMessage
	// loadErr is why the file could not be read: such a file is never
	// saved over, so a typo in it does not cost the user the rest.
	loadErr error

	Auths        map[string]authEntry
	PsFormat     string
	ImagesFormat string
	// NetworksFormat is network ls's default --format.
	NetworksFormat string
	// VolumesFormat is volume ls's default --format.
	VolumesFormat string
	StatsFormat   string
	DetachKeys    string
	// CredsStore names the credential helper (docker-credential-<name>)
	// that keeps the credentials of every registry ("credsStore").
	CredsStore string
	// CredHelpers names a helper per registry host ("credHelpers"); it
	// wins over CredsStore for that host.
	CredHelpers map[string]string
}

// authEntry is one registry's entry in "auths": base64("user:password"),
// or base64("user:") and an identity token. With a credential helper the
// entry is empty: it only records that the user logged in.
type authEntry struct {
	Auth          string
	IdentityToken string
	// other keeps the members berth does not use (email, serveraddress,
	// registrytoken from older or newer CLIs) so that saving keeps them.
	other map[string]json.RawMessage
}

func (e *authEntry) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*e = authEntry{}
	for k, v := range m {
		var err error
		switch k {
		case "auth":
			err = json.Unmarshal(v, &e.Auth)
		case "identitytoken":
			err = json.Unmarshal(v, &e.IdentityToken)
		default:
			if e.other == nil {
				e.other = map[string]json.RawMessage{}
			}
			e.other[k] = v
		}
		if err != nil {
			return fmt.Errorf("auths: %s: %w", k, err)
		}
	}
	return nil
}

func (e authEntry) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.other)+2)
	for k, v := range e.other {
		m[k] = v
	}
	if e.Auth != "" {
		m["auth"] = e.Auth
	}
	if e.IdentityToken != "" {
		m["identitytoken"] = e.IdentityToken
	}
	return json.Marshal(m)
}

// loadConfig reads dir/config.json; a missing file is an empty config.
func loadConfig(dir string) (*configFile, error) {
	cf := newConfigFile(dir)
	data, err := os.ReadFile(cf.path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return cf, nil
	}
	if err := json.Unmarshal(data, &cf.raw); err != nil {
		return nil, fmt.Errorf("loading config file: %s: %w", cf.path, err)
	}
	str := func(key string) string {
		var s string
		json.Unmarshal(cf.raw[key], &s) //nolint:errcheck // a wrong type reads as unset
		return s
	}
	cf.PsFormat, cf.ImagesFormat, cf.StatsFormat, cf.DetachKeys = str("psFormat"), str("imagesFormat"), str("statsFormat"), str("detachKeys")
	cf.NetworksFormat, cf.VolumesFormat = str("networksFormat"), str("volumesFormat")
	cf.CredsStore = str("credsStore")
	if h, ok := cf.raw["credHelpers"]; ok {
		if err := json.Unmarshal(h, &cf.CredHelpers); err != nil {
			return nil, fmt.Errorf("loading config file: %s: credHelpers: %w", cf.path, err)
		}
	}
	if a, ok := cf.raw["auths"]; ok && string(a) != "null" {
		if err := json.Unmarshal(a, &cf.Auths); err != nil {
			return nil, fmt.Errorf("loading config file: %s: %w", cf.path, err)
		}
	}
	return cf, nil
}

func newConfigFile(dir string) *configFile {
	return &configFile{path: filepath.Join(dir, "config.json"), raw: map[string]json.RawMessage{}, Auths: map[string]authEntry{}}
}

// save writes the file atomically (temp file, fsync, rename) with mode
// 0600, as it may hold secrets. A symlinked config.json is written
// through the link, as docker does, so dotfile managers keep working.
func (cf *configFile) save() error {
	if cf.loadErr != nil {
		return fmt.Errorf("not saving %s, which could not be read: %w", cf.path, cf.loadErr)
	}
	auths, err := json.Marshal(cf.Auths)
	if err != nil {
		return err
	}
	cf.raw["auths"] = auths
	data, err := json.MarshalIndent(cf.raw, "", "\t")
	if err != nil {
		return err
	}
	target := cf.path
	if p, err := filepath.EvalSymlinks(cf.path); err == nil {
		target = p
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config.json.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	for _, step := range []func() error{
		func() error { _, err := tmp.Write(data); return err },
		func() error { return tmp.Chmod(0o600) },
		tmp.Sync,
	} {
		if err := step(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	// The rename is durable once the directory is synced; a failure here
	// leaves a good file, so it is not reported.
	if d, err := os.Open(dir); err == nil {
		d.Sync() //nolint:errcheck // best effort, see above
		d.Close()
	}
	return nil
}

// credentials returns the user and password saved in the file for a
// registry (not those a credential helper keeps).
func (cf *configFile) credentials(server string) (user, password string, ok bool) {
	ac, found := cf.fileAuth(server)
	if !found || ac.Username == "" {
		return "", "", false
	}
	return ac.Username, ac.Password, true
}

// encodeAuth is config.json's "auth": base64 of "user:password".
func encodeAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// config loads the client config once per command.
func (a *app) config() *configFile {
	if a.cfg != nil {
		return a.cfg
	}
	cf, err := loadConfig(a.configDir)
	if err != nil {
		fmt.Fprintln(a.streams.Err, "WARNING: Error", err)
		cf = newConfigFile(a.configDir)
		cf.loadErr = err
	}
	a.cfg = cf
	return cf
}
