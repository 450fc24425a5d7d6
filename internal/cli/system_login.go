package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/registry"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	xterm "golang.org/x/term"
)

type loginOptions struct {
	server, user, password string
	passwordStdin          bool
}

func newLoginCommand(a *app) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Long:  "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.server = args[0]
			}
			if err := checkLoginFlags(cmd.Flags(), o); err != nil {
				return err
			}
			return runLogin(cmd.Context(), a, o)
		},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.StringVarP(&o.user, "username", "u", "", "Username")
	f.StringVarP(&o.password, "password", "p", "", `Password or Personal Access Token (PAT), or "-" to read from stdin`)
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func checkLoginFlags(f *pflag.FlagSet, o loginOptions) error {
	if f.Changed("password-stdin") || o.password == "-" {
		if f.Changed("password") && o.password != "-" {
			return errors.New("conflicting options: cannot specify both --password and --password-stdin")
		}
		if !f.Changed("username") {
			return errors.New("the --password-stdin option requires --username to be set")
		}
	}
	if f.Changed("username") && o.user == "" {
		return errors.New("username is empty")
	}
	if f.Changed("password") && o.password == "" {
		return errors.New("password is empty")
	}
	return nil
}

// registryHost reduces a server given to login or logout to the config
// key docker uses: Docker Hub's URL, or the bare host[:port].
func registryHost(server string) string {
	if server == "" || server == "docker.io" || server == "index.docker.io" || server == indexServer {
		return indexServer
	}
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	host, _, _ := strings.Cut(s, "/")
	return host
}

func runLogin(ctx context.Context, a *app, o loginOptions) error {
	if o.password == "-" {
		o.password, o.passwordStdin = "", true
	}
	if o.password != "" {
		fmt.Fprintln(a.streams.Err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if o.passwordStdin {
		b, err := io.ReadAll(a.streams.In)
		if err != nil {
			return err
		}
		for _, eol := range []string{"\r\n", "\n", "\r"} {
			var cut bool
			if b, cut = bytes.CutSuffix(b, []byte(eol)); cut {
				break
			}
		}
		if strings.TrimSpace(string(b)) == "" {
			return errors.New("password is empty")
		}
		o.password = string(b)
	}
	server := registryHost(o.server)
	creds := a.credStore(server)
	user, password := o.user, o.password
	if user == "" && password == "" {
		// As docker, a helper that cannot answer here is not fatal: the
		// user is asked, and saving reports the helper's trouble.
		if saved, err := creds.get(ctx, server); err == nil && saved.Username != "" && saved.Password != "" {
			fmt.Fprintf(a.streams.Err, "Authenticating with existing credentials... [Username: %s]\n", saved.Username)
			fmt.Fprint(a.streams.Err, "\n Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n\n")
			user, password = saved.Username, saved.Password
		}
	}
	if user == "" || password == "" {
		var err error
		if user, password, err = a.promptCredentials(user, password); err != nil {
			return err
		}
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.RegistryLogin(ctx, sdk.RegistryLoginOptions{Username: user, Password: password, ServerAddress: server})
	if err != nil {
		return err
	}
	ac := registry.AuthConfig{Username: user, Password: password, ServerAddress: server}
	if res.Auth.IdentityToken != "" {
		// The registry's refresh token replaces the password, as docker keeps it.
		ac.Password, ac.IdentityToken = "", res.Auth.IdentityToken
	}
	plaintextIn, err := creds.store(ctx, ac)
	if err != nil {
		return fmt.Errorf("Error saving credentials: %w", err) //nolint:staticcheck // docker's wording
	}
	if plaintextIn != "" {
		fmt.Fprintf(a.streams.Err, "\nWARNING! Your credentials are stored unencrypted in '%s'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n", plaintextIn)
	}
	status := res.Auth.Status
	if status == "" {
		status = "Login Succeeded"
	}
	fmt.Fprintln(a.streams.Out, status)
	return nil
}

// promptCredentials asks for what the flags did not give; the password is
// read without echo on a terminal.
func (a *app) promptCredentials(user, password string) (string, string, error) {
	in := bufio.NewReader(a.streams.In)
	if user == "" {
		fmt.Fprint(a.streams.Out, "Username: ")
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return "", "", errors.New("error: Username is Required")
		}
		user = strings.TrimSpace(line)
		if user == "" {
			return "", "", errors.New("error: Username is Required")
		}
	}
	if password == "" {
		fmt.Fprint(a.streams.Out, "Password: ")
		if fd, ok := fdOf(a.streams.In); ok && xterm.IsTerminal(fd) {
			b, err := xterm.ReadPassword(fd)
			fmt.Fprintln(a.streams.Out)
			if err != nil {
				return "", "", err
			}
			password = string(b)
		} else {
			line, _ := in.ReadString('\n')
			password = strings.TrimRight(line, "\r\n")
		}
		if password == "" {
			return "", "", errors.New("error: Password Required")
		}
	}
	return user, password, nil
}

func newLogoutCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) > 0 {
				server = args[0]
			}
			return runLogout(cmd.Context(), a, registryHost(server))
		},
		DisableFlagsInUseLine: true,
	}
}

// runLogout forgets key's credentials: in its credential helper and in
// config.json, including entries older CLIs saved under the registry's
// URL. Without a helper, the file says whether the user is logged in;
// with one only the helper knows, so the erase is always tried, as docker
// 28 does.
func runLogout(ctx context.Context, a *app, key string) error {
	cfg := a.config()
	servers := []string{key}
	if key != indexServer {
		for _, legacy := range []string{"http://" + key, "https://" + key} {
			if _, ok := cfg.Auths[legacy]; ok {
				servers = append(servers, legacy)
			}
		}
	}
	_, helper := a.credStore(key).(helperStore)
	if !helper {
		if _, ok := cfg.Auths[key]; !ok && len(servers) == 1 {
			fmt.Fprintf(a.streams.Out, "Not logged in to %s\n", key)
			return nil
		}
	}
	fmt.Fprintf(a.streams.Out, "Removing login credentials for %s\n", key)
	var failed []string
	for _, server := range servers {
		if err := a.credStore(server).erase(ctx, server); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", server, err))
		}
	}
	// As docker: the logout is reported, and what could not be erased is
	// a warning, not a failure.
	if len(failed) > 0 {
		fmt.Fprintln(a.streams.Err, "WARNING: could not erase credentials:")
		for _, f := range failed {
			fmt.Fprintln(a.streams.Err, f)
		}
	}
	return nil
}
