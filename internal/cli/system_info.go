package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/system"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
)

// infoData is what info --format sees: the daemon's Info with docker's
// client members beside it (.ClientInfo, .ServerErrors).
type infoData struct {
	*system.Info `json:",omitempty"`
	ServerErrors []string `json:",omitempty"`
	UserName     string   `json:"-"`

	ClientInfo   *infoClient `json:",omitempty"`
	ClientErrors []string    `json:",omitempty"`
}

type infoClient struct {
	Debug bool
	clientVersion
	Plugins  []struct{}
	Warnings []string
}

func newInfoCommand(a *app) *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInfo(cmd.Context(), a, f)
		},
		Annotations:           map[string]string{"aliases": "berth system info, berth info"},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", tableFormatHelp)
	return cmd
}

func runInfo(ctx context.Context, a *app, tmplText string) error {
	info := infoData{
		ClientInfo: &infoClient{
			Debug:   a.debug,
			Plugins: []struct{}{},
			clientVersion: clientVersion{
				Version: a.set.version, GitCommit: a.set.gitCommit, Context: "default",
				DefaultAPIVersion: sdk.MaxAPIVersion,
			},
		},
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	res, err := c.Info(ctx, sdk.InfoOptions{})
	switch {
	case err == nil:
		info.Info = &res.Info
	case sdk.IsErrConnectionFailed(err):
		if tmplText == "" {
			a.printClientInfo(info)
		}
		return err
	default:
		info.ServerErrors = append(info.ServerErrors, err.Error())
	}
	if tmplText == "" {
		info.UserName, _, _ = a.config().credentials(indexServer)
		info.ClientInfo.APIVersion = c.ClientVersion()
		a.printClientInfo(info)
		fmt.Fprintln(a.streams.Out)
		fmt.Fprintln(a.streams.Out, "Server:")
		if info.Info != nil {
			printServerInfo(a.streams.Out, a.streams.Err, info, a.debug)
		}
		for _, e := range info.ServerErrors {
			fmt.Fprintln(a.streams.Err, "ERROR:", e)
		}
		if len(info.ServerErrors) > 0 {
			return errors.New("errors pretty printing info")
		}
		return nil
	}
	if tmplText == format.JSON {
		tmplText = "{{json .}}"
	}
	tmpl, err := format.Parse(tmplText)
	if err != nil {
		return StatusError{Status: "template parsing error: " + err.Error(), Code: 64}
	}
	if info.Info == nil {
		info.Info = &system.Info{}
	}
	for _, e := range info.ServerErrors {
		fmt.Fprintln(a.streams.Err, e)
	}
	execErr := tmpl.Execute(a.streams.Out, info)
	fmt.Fprintln(a.streams.Out)
	return execErr
}

func (a *app) printClientInfo(info infoData) {
	out := a.streams.Out
	fmt.Fprintln(out, "Client:")
	fmt.Fprintln(out, " Version:   ", info.ClientInfo.Version)
	fmt.Fprintln(out, " Context:   ", info.ClientInfo.Context)
	fmt.Fprintln(out, " Debug Mode:", info.ClientInfo.Debug)
}

// printServerInfo is docker info's server section.
func printServerInfo(out, errw io.Writer, d infoData, debug bool) {
	i := d.Info
	line := func(args ...any) { fmt.Fprintln(out, args...) }
	nonEmpty := func(label, v string) {
		if v != "" {
			fmt.Fprintln(out, label, v)
		}
	}
	line(" Containers:", i.Containers)
	line("  Running:", i.ContainersRunning)
	line("  Paused:", i.ContainersPaused)
	line("  Stopped:", i.ContainersStopped)
	line(" Images:", i.Images)
	nonEmpty(" Server Version:", i.ServerVersion)
	nonEmpty(" Storage Driver:", i.Driver)
	for _, p := range i.DriverStatus {
		fmt.Fprintf(out, "  %s: %s\n", p[0], p[1])
	}
	for _, p := range i.SystemStatus {
		fmt.Fprintf(out, " %s: %s\n", p[0], p[1])
	}
	nonEmpty(" Logging Driver:", i.LoggingDriver)
	nonEmpty(" Cgroup Driver:", i.CgroupDriver)
	nonEmpty(" Cgroup Version:", i.CgroupVersion)
	line(" Plugins:")
	line("  Volume:", strings.Join(i.Plugins.Volume, " "))
	line("  Network:", strings.Join(i.Plugins.Network, " "))
	if len(i.Plugins.Authorization) != 0 {
		line("  Authorization:", strings.Join(i.Plugins.Authorization, " "))
	}
	line("  Log:", strings.Join(i.Plugins.Log, " "))
	line(" Swarm:", i.Swarm.LocalNodeState)
	if len(i.Runtimes) > 0 {
		names := make([]string, 0, len(i.Runtimes))
		for n := range i.Runtimes {
			names = append(names, n)
		}
		sort.Strings(names)
		line(" Runtimes:", strings.Join(names, " "))
		line(" Default Runtime:", i.DefaultRuntime)
	}
	if i.OSType == "linux" {
		line(" Init Binary:", i.InitBinary)
		line(" containerd version:", i.ContainerdCommit.ID)
		line(" runc version:", i.RuncCommit.ID)
		line(" init version:", i.InitCommit.ID)
		if len(i.SecurityOptions) > 0 {
			line(" Security Options:")
			for _, so := range i.SecurityOptions {
				name, profile := securityOption(so)
				line("  " + name)
				if profile != "" {
					line("   Profile:", profile)
				}
			}
		}
	}
	nonEmpty(" Kernel Version:", i.KernelVersion)
	nonEmpty(" Operating System:", i.OperatingSystem)
	nonEmpty(" OSType:", i.OSType)
	nonEmpty(" Architecture:", i.Architecture)
	line(" CPUs:", i.NCPU)
	line(" Total Memory:", units.BytesSize(float64(i.MemTotal)))
	nonEmpty(" Name:", i.Name)
	nonEmpty(" ID:", i.ID)
	line(" Docker Root Dir:", i.DockerRootDir)
	line(" Debug Mode:", i.Debug)
	if i.Debug || debug {
		line("  File Descriptors:", i.NFd)
		line("  Goroutines:", i.NGoroutines)
		line("  System Time:", i.SystemTime)
		line("  EventsListeners:", i.NEventsListener)
	}
	nonEmpty(" HTTP Proxy:", i.HTTPProxy)
	nonEmpty(" HTTPS Proxy:", i.HTTPSProxy)
	nonEmpty(" No Proxy:", i.NoProxy)
	nonEmpty(" Username:", d.UserName)
	if len(i.Labels) > 0 {
		line(" Labels:")
		for _, l := range i.Labels {
			line("  " + l)
		}
	}
	line(" Experimental:", i.ExperimentalBuild)
	if rc := i.RegistryConfig; rc != nil && (len(rc.InsecureRegistryCIDRs) > 0 || len(rc.IndexConfigs) > 0) {
		line(" Insecure Registries:")
		names := make([]string, 0, len(rc.IndexConfigs))
		for _, ic := range rc.IndexConfigs {
			if !ic.Secure {
				names = append(names, ic.Name)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			line("  " + n)
		}
		for _, cidr := range rc.InsecureRegistryCIDRs {
			fmt.Fprintf(out, "  %s\n", cidr)
		}
	}
	if rc := i.RegistryConfig; rc != nil && len(rc.Mirrors) > 0 {
		line(" Registry Mirrors:")
		for _, m := range rc.Mirrors {
			line("  " + m)
		}
	}
	line(" Live Restore Enabled:", i.LiveRestoreEnabled)
	line()
	for _, w := range i.Warnings {
		fmt.Fprintln(errw, w)
	}
}

// securityOption reads "name=seccomp,profile=builtin" (or a bare name).
func securityOption(s string) (name, profile string) {
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			name = kv
		case k == "name":
			name = v
		case k == "profile":
			profile = v
		}
	}
	return name, profile
}
