package cli

import (
	"strings"
	"sync"
	"text/template"

	"github.com/spf13/cobra"
)

// The help layout follows docker's: usage, description, aliases, options,
// then the subcommands grouped as management and plain commands.
const usageTemplate = `Usage:
{{- if not .HasSubCommands}}  {{.UseLine}}{{end}}
{{- if .HasSubCommands}}  {{.CommandPath}}{{if .HasAvailableFlags}} [OPTIONS]{{end}} COMMAND{{end}}

{{if ne .Long ""}}{{.Long | trim}}{{else}}{{.Short | trim}}{{end}}
{{- if aliasLine .}}

Aliases:
  {{aliasLine .}}
{{- end}}
{{- if .HasExample}}

Examples:
{{.Example}}
{{- end}}
{{- if .HasParent}}{{if .HasAvailableLocalFlags}}

Options:
{{.LocalFlags.FlagUsages | trimRight}}
{{- end}}{{end}}
{{- if management .}}

Management Commands:
{{- range management .}}
  {{rpad .Name .NamePadding}} {{.Short}}
{{- end}}
{{- end}}
{{- if operations .}}

Commands:
{{- range operations .}}
  {{rpad .Name .NamePadding}} {{.Short}}
{{- end}}
{{- end}}
{{- if not .HasParent}}

Global Options:
{{.LocalFlags.FlagUsages | trimRight}}
{{- end}}
{{- if .HasSubCommands}}

Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{- end}}

`

// templateFuncs go into cobra's global function table once.
var templateFuncs sync.Once

func setHelp(root *cobra.Command) {
	templateFuncs.Do(addTemplateFuncs)
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate(`{{if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}`)
	root.SetFlagErrorFunc(flagError)
}

func addTemplateFuncs() {
	cobra.AddTemplateFuncs(template.FuncMap{
		"trim":      strings.TrimSpace,
		"trimRight": func(s string) string { return strings.TrimRight(s, " \n\t") },
		"aliasLine": func(c *cobra.Command) string { return c.Annotations["aliases"] },
		"management": func(c *cobra.Command) []*cobra.Command {
			return subcommands(c, true)
		},
		"operations": func(c *cobra.Command) []*cobra.Command {
			return subcommands(c, false)
		},
	})
}

func subcommands(c *cobra.Command, management bool) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() || sub.Name() == "help" {
			continue
		}
		if sub.HasSubCommands() == management {
			out = append(out, sub)
		}
	}
	return out
}
