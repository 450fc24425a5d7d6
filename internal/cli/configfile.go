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

	Auths        map[string]authEntry
	PsFormat     string
	ImagesFormat string
	// NetworksFormat is network ls's default --format.
	NetworksFormat string
	// VolumesFormat is volume ls's default --format.
	VolumesFormat string
	StatsFormat   string
	DetachKeys    string
}

// authEntry is one registry's saved login: base64("user:password").
type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// loadConfig reads dir/config.json; a missing file is an empty config.
func loadConfig(dir string) (*configFile, error) {
	cf := &configFile{path: filepath.Join(dir, "config.json"), raw: map[string]json.RawMessage{}, Auths: map[string]authEntry{}}
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
	if a, ok := cf.raw["auths"]; ok {
		if err := json.Unmarshal(a, &cf.Auths); err != nil {
			return nil, fmt.Errorf("loading config file: %s: %w", cf.path, err)
		}
	}
	return cf, nil
}

// save writes the file atomically with mode 0600, as it holds secrets.
func (cf *configFile) save() error {
	auths, err := json.Marshal(cf.Auths)
	if err != nil {
		return err
	}
	cf.raw["auths"] = auths
	data, err := json.MarshalIndent(cf.raw, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cf.path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(cf.path), ".config.json.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), cf.path)
}

// credentials returns the saved user and password for a registry.
func (cf *configFile) credentials(server string) (user, password string, ok bool) {
	e, found := cf.Auths[server]
	if !found {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(raw), ":")
	return user, password, ok
}

func (cf *configFile) setCredentials(server, user, password string) {
	cf.Auths[server] = authEntry{Auth: encodeAuth(user, password)}
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
		cf = &configFile{path: filepath.Join(a.configDir, "config.json"), raw: map[string]json.RawMessage{}, Auths: map[string]authEntry{}}
	}
	a.cfg = cf
	return cf
}
