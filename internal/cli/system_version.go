package cli

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/types/system"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
)

// The layout of docker version: tab-aligned label/value pairs.
const versionTemplate = `{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 Version:	{{.Version}}
 API version:	{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
 Context:	{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine"}}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else}}
  Version:	{{$component.Version}}
  {{- range $key := detailKeys $component}}
  {{$key}}:	{{index $component.Details $key}}
  {{- end}}
  {{- end}}
 {{- end}}
{{- end}}{{- end}}`

type versionOptions struct {
	format string
}

// The shapes --format sees: .Client and .Server, as docker's.
type versionInfo struct {
	Client clientVersion
	Server *serverVersion
}

type platformName struct {
	Name string `json:"Name,omitempty"`
}

type clientVersion struct {
	Platform          *platformName `json:"Platform,omitempty"`
	Version           string        `json:"Version,omitempty"`
	APIVersion        string        `json:"ApiVersion,omitempty"`
	DefaultAPIVersion string        `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string        `json:"GitCommit,omitempty"`
	GoVersion         string        `json:"GoVersion,omitempty"`
	Os                string        `json:"Os,omitempty"`
	Arch              string        `json:"Arch,omitempty"`
	BuildTime         string        `json:"BuildTime,omitempty"`
	Context           string        `json:"Context"`
}

type serverVersion struct {
	Platform      sdk.PlatformInfo          `json:",omitempty"`
	Version       string                    `json:"Version"`
	APIVersion    string                    `json:"ApiVersion"`
	MinAPIVersion string                    `json:"MinAPIVersion,omitempty"`
	Os            string                    `json:"Os"`
	Arch          string                    `json:"Arch"`
	Components    []system.ComponentVersion `json:"Components,omitempty"`
	GitCommit     string                    `json:"GitCommit,omitempty"`
	GoVersion     string                    `json:"GoVersion,omitempty"`
	KernelVersion string                    `json:"KernelVersion,omitempty"`
	Experimental  bool                      `json:"Experimental,omitempty"`
	BuildTime     string                    `json:"BuildTime,omitempty"`
}

func newVersionCommand(a *app) *cobra.Command {
	var opts versionOptions
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Berth version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), a, opts)
		},
		DisableFlagsInUseLine: true,
	}
	cmd.Flags().StringVarP(&opts.format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func runVersion(ctx context.Context, a *app, opts versionOptions) error {
	text := opts.format
	switch text {
	case "":
		text = versionTemplate
	case format.JSON:
		text = "{{json .}}"
	}
	tmpl, err := format.New().Funcs(map[string]any{"detailKeys": detailKeys}).Parse(text)
	if err != nil {
		return StatusError{Status: "template parsing error: " + err.Error(), Code: 64}
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	info := versionInfo{Client: clientVersion{
		Version:           a.set.version,
		DefaultAPIVersion: sdk.MaxAPIVersion,
		GoVersion:         runtime.Version(),
		GitCommit:         a.set.gitCommit,
		BuildTime:         ansiDate(a.set.buildTime),
		Os:                runtime.GOOS,
		Arch:              runtime.GOARCH,
		Context:           "default",
	}}
	sv, err := c.ServerVersion(ctx, sdk.ServerVersionOptions{})
	if err == nil {
		info.Server = newServerVersion(sv)
	}
	// The API version is known once the first request has negotiated it.
	info.Client.APIVersion = c.ClientVersion()
	tw := tabwriter.NewWriter(a.streams.Out, 20, 1, 1, ' ', 0)
	execErr := tmpl.Execute(tw, info)
	fmt.Fprintln(tw)
	tw.Flush()
	if err != nil {
		return err
	}
	if execErr != nil {
		return fmt.Errorf("template parsing error: %w", execErr)
	}
	return nil
}

func newServerVersion(sv sdk.ServerVersionResult) *serverVersion {
	out := &serverVersion{
		Platform: sv.Platform, Version: sv.Version, APIVersion: sv.APIVersion,
		MinAPIVersion: sv.MinAPIVersion, Os: sv.Os, Arch: sv.Arch,
	}
	engine := false
	for _, comp := range sv.Components {
		if comp.Name == "Engine" {
			engine = true
			built := comp.Details["BuildTime"]
			if comp.Details != nil {
				comp.Details["BuildTime"] = ansiDate(built)
			}
			out.GitCommit = comp.Details["GitCommit"]
			out.GoVersion = comp.Details["GoVersion"]
			out.KernelVersion = comp.Details["KernelVersion"]
			out.BuildTime = built
		}
		out.Components = append(out.Components, comp)
	}
	if !engine {
		out.Components = append(out.Components, system.ComponentVersion{
			Name: "Engine", Version: sv.Version,
			Details: map[string]string{"ApiVersion": sv.APIVersion, "MinAPIVersion": sv.MinAPIVersion, "Os": sv.Os, "Arch": sv.Arch},
		})
	}
	return out
}

// ansiDate shows an RFC 3339 build time as docker does ("Fri May 30
// 12:07:35 2025"); anything else is shown as it is.
func ansiDate(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.ANSIC)
	}
	return s
}

func detailKeys(c system.ComponentVersion) []string {
	keys := make([]string, 0, len(c.Details))
	for k := range c.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
