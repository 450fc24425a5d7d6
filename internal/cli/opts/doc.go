// Package opts holds the command-line value types the CLI's flags use, with
// docker's syntax and error messages: repeatable lists with a validator,
// key=value maps, sizes ("512m"), CPU fractions ("1.5"), ulimits
// ("nofile=1024:2048"), filters ("label=a=b"), and the env-file and
// label-file readers.
package opts
