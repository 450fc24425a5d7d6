package distribution_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

func authConfig(reg *registrytest.Registry) registry.AuthConfig {
	return registry.AuthConfig{Username: reg.User, Password: reg.Password, ServerAddress: reg.Host}
}

// TestAuth pulls, pushes and logs in against a registry with htpasswd
// (basic) and one with token (bearer) authentication: the right
// credentials work, wrong or missing ones are Unauthorized.
func TestAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  registrytest.Option
	}{
		{"basic", registrytest.WithHtpasswd("alice", "correct horse")},
		{"token", registrytest.WithTokenAuth("bob", "battery staple")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			reg := registrytest.Start(t, tc.opt)
			img := randomImage(t, 1, 4096, 30)
			imagetest.Push(t, reg, "private/img:latest", img)
			ref := reg.Ref("private/img:latest")
			good := authConfig(reg)
			bad := good
			bad.Password = "wrong"
			// An empty config dir: no credentials from the host's ~/.docker.
			anon := distribution.WithConfigDir(t.TempDir())

			res, err := distribution.Pull(ctx, ref, newStore(t), distribution.WithAuth(good))
			if err != nil {
				t.Fatalf("pull with the right credentials: %v", err)
			}
			for name, opt := range map[string]distribution.Option{"wrong": distribution.WithAuth(bad), "none": anon} {
				_, err := distribution.Pull(ctx, ref, newStore(t), opt, fastRetries)
				if !errdefs.IsUnauthorized(err) {
					t.Errorf("pull with %s credentials: %v, want Unauthorized", name, err)
				}
			}

			store := newStore(t)
			root := storeImage(t, store, img)
			if _, err := distribution.Push(ctx, reg.Ref("private/copy:latest"), store, root, distribution.WithAuth(good)); err != nil {
				t.Fatalf("push with the right credentials: %v", err)
			}
			_, err = distribution.Push(ctx, reg.Ref("private/copy2:latest"), store, root, distribution.WithAuth(bad), fastRetries)
			if !errdefs.IsUnauthorized(err) {
				t.Errorf("push with wrong credentials: %v, want Unauthorized", err)
			}

			c, err := distribution.New()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Login(ctx, reg.Host, good)
			if err != nil || resp.Status != "Login Succeeded" {
				t.Fatalf("login: %+v, %v", resp, err)
			}
			if _, err := c.Login(ctx, reg.Host, bad); !errdefs.IsUnauthorized(err) {
				t.Errorf("login with a wrong password: %v, want Unauthorized", err)
			}

			// The CLI's login: saved to a config.json, read by the next pull.
			dir := t.TempDir()
			if err := distribution.SaveCredentials(dir, good); err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Auths map[string]struct{ Auth string } `json:"auths"`
			}
			b, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &cfg); err != nil || cfg.Auths[reg.Host].Auth == "" {
				t.Fatalf("config.json %s: %v", b, err)
			}
			if _, err := distribution.Pull(ctx, "http://"+ref, newStore(t)); err == nil {
				t.Error("a URL is not a reference")
			}
			res2, err := distribution.Pull(ctx, ref, newStore(t), distribution.WithConfigDir(dir))
			if err != nil {
				t.Fatalf("pull with the saved credentials: %v", err)
			}
			if res2.Root.Digest != res.Root.Digest {
				t.Fatal("pulled another image")
			}
			got, err := distribution.LoadCredentials(dir, reg.Host)
			if err != nil || got.Username != good.Username || got.Password != good.Password {
				t.Fatalf("LoadCredentials: %+v, %v", got, err)
			}
			if err := distribution.RemoveCredentials(dir, reg.Host); err != nil {
				t.Fatal(err)
			}
			if err := distribution.RemoveCredentials(dir, reg.Host); !errdefs.IsNotFound(err) {
				t.Errorf("second logout: %v, want NotFound", err)
			}
			_, err = distribution.Pull(ctx, ref, newStore(t), distribution.WithConfigDir(dir), fastRetries)
			if !errdefs.IsUnauthorized(err) {
				t.Errorf("pull after logout: %v, want Unauthorized", err)
			}
			if tc.name == "token" && reg.TokenRequests() == 0 {
				t.Error("no token was ever issued")
			}
		})
	}
}

// TestAuthHeader round-trips the Engine API's X-Registry-Auth header.
func TestAuthHeader(t *testing.T) {
	ac := registry.AuthConfig{Username: "u", Password: "p/+=?", ServerAddress: "127.0.0.1:5000"}
	h, err := distribution.EncodeAuthHeader(ac)
	if err != nil {
		t.Fatal(err)
	}
	got, err := distribution.DecodeAuthHeader(h)
	if err != nil || got != ac {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if got, err := distribution.DecodeAuthHeader(""); err != nil || got != (registry.AuthConfig{}) {
		t.Fatalf("empty header: %+v, %v", got, err)
	}
	if _, err := distribution.DecodeAuthHeader("!!!"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("garbage header: %v", err)
	}
}
