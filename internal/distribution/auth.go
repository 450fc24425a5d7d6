package distribution

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/docker/cli/cli/config"
	clitypes "github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/errdefs"
)

// configKeychain reads credentials from a docker config.json, honouring its
// credsStore and credHelpers (docker-credential-* helpers), as the docker
// CLI does. Unlike ggcr's DefaultKeychain it takes the directory as a
// parameter instead of reading $DOCKER_CONFIG and $HOME, so the daemon can
// point it at its own directory. The file is read on every lookup, so a
// login is seen by the next pull.
type configKeychain struct{ dir string }

var _ authn.Keychain = configKeychain{}

func (k configKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	cf, err := config.Load(k.dir)
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	// docker/cli files Docker Hub under its v1 index URL for any of its
	// names, and matches other hosts with or without a scheme.
	ac, err := cf.GetAuthConfig(r.RegistryStr())
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", r.RegistryStr(), err)
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		Auth:          ac.Auth,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	}), nil
}

// resource names a registry to a keychain: Docker Hub as ggcr's keychains
// expect it (index.docker.io), anything else by its host.
type resource struct{ domain, repo string }

func (r resource) RegistryStr() string {
	if r.domain == dockerHubDomain {
		return dockerHubIndex
	}
	return r.domain
}

func (r resource) String() string {
	if r.repo == "" {
		return r.RegistryStr()
	}
	return r.RegistryStr() + "/" + r.repo
}

// authenticator picks the credentials for one endpoint of domain: explicit
// ones (WithAuth) for the registry itself, else the keychain's. A mirror is
// another server, so it gets only what the keychain has filed under its own
// host, never the Docker Hub credentials of the request.
func (o *options) authenticator(ep endpoint, domain, repo string) (authn.Authenticator, error) {
	if ep.mirror {
		return o.resolveKeychain(resource{domain: ep.host})
	}
	if o.auth != nil {
		return authn.FromConfig(authn.AuthConfig{
			Username:      o.auth.Username,
			Password:      o.auth.Password,
			Auth:          o.auth.Auth,
			IdentityToken: o.auth.IdentityToken,
			RegistryToken: o.auth.RegistryToken,
		}), nil
	}
	return o.resolveKeychain(resource{domain: domain, repo: repo})
}

func (o *options) resolveKeychain(r resource) (authn.Authenticator, error) {
	kc := o.keychain
	if kc == nil {
		kc = configKeychain{dir: o.configDir}
	}
	a, err := kc.Resolve(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdefs.ErrUnauthorized)
	}
	return a, nil
}

// DecodeAuthHeader decodes the Engine API's X-Registry-Auth header
// (base64url of a JSON AuthConfig; docker also sends standard base64). An
// empty header is no credentials.
func DecodeAuthHeader(h string) (registry.AuthConfig, error) {
	var ac registry.AuthConfig
	if h == "" {
		return ac, nil
	}
	raw, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		// Older clients pad differently or use the standard alphabet.
		if raw, err = base64.RawURLEncoding.DecodeString(h); err != nil {
			if raw, err = base64.StdEncoding.DecodeString(h); err != nil {
				return ac, fmt.Errorf("X-Registry-Auth: %w: %w", err, errdefs.ErrInvalidParameter)
			}
		}
	}
	if err := json.NewDecoder(strings.NewReader(string(raw))).Decode(&ac); err != nil {
		return ac, fmt.Errorf("X-Registry-Auth: %w: %w", err, errdefs.ErrInvalidParameter)
	}
	return ac, nil
}

// EncodeAuthHeader encodes ac for the X-Registry-Auth header.
func EncodeAuthHeader(ac registry.AuthConfig) (string, error) {
	b, err := json.Marshal(ac)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// loginStatus is what docker's daemon answers a successful login with.
const loginStatus = "Login Succeeded"

// Login checks ac's credentials against the registry at serverAddress (a
// host, a URL, or empty for Docker Hub) by pinging /v2/ and, for a bearer
// registry, getting a token. It answers as POST /auth does: Status, and an
// IdentityToken when the token server issued a refresh token (then the
// client stores that instead of the password). Wrong credentials are
// errdefs.ErrUnauthorized. Login writes nothing: the CLI saves the result
// with SaveCredentials.
func (c *Client) Login(ctx context.Context, serverAddress string, ac registry.AuthConfig, opts ...Option) (registry.AuthResponse, error) {
	o, err := c.callOptions(append(opts, WithAuth(ac)))
	if err != nil {
		return registry.AuthResponse{}, err
	}
	domain, err := registryHost(cmp.Or(serverAddress, ac.ServerAddress))
	if err != nil {
		return registry.AuthResponse{}, err
	}
	host := endpointHost(domain)
	auth, err := o.authenticator(endpoint{host: host}, domain, "")
	if err != nil {
		return registry.AuthResponse{}, err
	}
	reg, err := o.nameRegistry(host)
	if err != nil {
		return registry.AuthResponse{}, err
	}
	base := c.guarded(o)
	var ch *transport.Challenge
	err = o.retry(ctx, func() error {
		var err error
		ch, err = transport.Ping(ctx, reg, base)
		return err
	})
	if err != nil {
		return registry.AuthResponse{}, fmt.Errorf("login to %s: %w", domain, classify(err))
	}
	switch strings.ToLower(ch.Scheme) {
	case "bearer":
		tok, err := transport.Exchange(ctx, reg, auth, base, nil, ch)
		if err != nil {
			return registry.AuthResponse{}, fmt.Errorf("login to %s: %w", domain, classify(err))
		}
		return registry.AuthResponse{Status: loginStatus, IdentityToken: tok.RefreshToken}, nil
	case "":
		// The registry asks for no credentials at all.
		return registry.AuthResponse{Status: loginStatus}, nil
	default:
		rt, err := transport.NewWithContext(ctx, reg, auth, base, nil)
		if err != nil {
			return registry.AuthResponse{}, fmt.Errorf("login to %s: %w", domain, classify(err))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
		if err != nil {
			return registry.AuthResponse{}, err
		}
		resp, err := (&http.Client{Transport: rt}).Do(req)
		if err != nil {
			return registry.AuthResponse{}, fmt.Errorf("login to %s: %w", domain, classify(err))
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			// dockerd's words, which scripts and users know.
			return registry.AuthResponse{}, errdefs.Errorf(errdefs.ErrUnauthorized,
				"login attempt to %s failed with status: %s", resp.Request.URL.Redacted(), resp.Status)
		}
		if err := checkResponse(resp, http.StatusOK); err != nil {
			return registry.AuthResponse{}, fmt.Errorf("login to %s: %w", domain, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return registry.AuthResponse{Status: loginStatus}, nil
	}
}

// nameRegistry is ggcr's name for host; only a registry the policy allows
// is marked insecure, which is what lets ggcr's ping try plain HTTP.
func (o *options) nameRegistry(host string) (name.Registry, error) {
	var nopts []name.Option
	if o.insecure.allows(host) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nopts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("registry %q: %w: %w", host, err, errdefs.ErrInvalidParameter)
	}
	return reg, nil
}

// SaveCredentials files ac under its ServerAddress in the docker config.json
// of configDir ("" means $DOCKER_CONFIG or ~/.docker), in the credsStore or
// credHelper the file names for that registry, else in the file itself, as
// `docker login` does. When ac carries an IdentityToken the password is not
// stored.
func SaveCredentials(configDir string, ac registry.AuthConfig) error {
	domain, err := registryHost(ac.ServerAddress)
	if err != nil {
		return err
	}
	cf, err := config.Load(configDir)
	if err != nil {
		// Never overwrite a file we could not read.
		return fmt.Errorf("docker config: %w", err)
	}
	key := credentialKey(domain)
	entry := clitypes.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		ServerAddress: key,
		IdentityToken: ac.IdentityToken,
	}
	if entry.IdentityToken != "" {
		entry.Password = ""
	}
	if err := cf.GetCredentialsStore(key).Store(entry); err != nil {
		return fmt.Errorf("saving credentials for %s: %w", domain, err)
	}
	return nil
}

// RemoveCredentials forgets the credentials of serverAddress (docker
// logout). Credentials that were never saved are errdefs.ErrNotFound.
func RemoveCredentials(configDir, serverAddress string) error {
	domain, err := registryHost(serverAddress)
	if err != nil {
		return err
	}
	cf, err := config.Load(configDir)
	if err != nil {
		return fmt.Errorf("docker config: %w", err)
	}
	key := credentialKey(domain)
	store := cf.GetCredentialsStore(key)
	ac, err := store.Get(key)
	if err != nil {
		return fmt.Errorf("credentials for %s: %w", domain, err)
	}
	if ac == (clitypes.AuthConfig{ServerAddress: ac.ServerAddress}) {
		return fmt.Errorf("not logged in to %s: %w", domain, errdefs.ErrNotFound)
	}
	if err := store.Erase(key); err != nil {
		return fmt.Errorf("removing credentials for %s: %w", domain, err)
	}
	return nil
}

// LoadCredentials returns the credentials filed for serverAddress, for the
// CLI to send as X-Registry-Auth. None filed is a zero AuthConfig.
func LoadCredentials(configDir, serverAddress string) (registry.AuthConfig, error) {
	domain, err := registryHost(serverAddress)
	if err != nil {
		return registry.AuthConfig{}, err
	}
	cf, err := config.Load(configDir)
	if err != nil {
		return registry.AuthConfig{}, fmt.Errorf("docker config: %w", err)
	}
	key := credentialKey(domain)
	ac, err := cf.GetAuthConfig(key)
	if err != nil {
		return registry.AuthConfig{}, fmt.Errorf("credentials for %s: %w", domain, err)
	}
	return registry.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		Auth:          ac.Auth,
		ServerAddress: key,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	}, nil
}

// credentialKey is the key docker files a registry's credentials under.
func credentialKey(domain string) string {
	if domain == dockerHubDomain {
		return dockerHubAuthKey
	}
	return domain
}
