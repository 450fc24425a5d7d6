// Command berth is the docker-compatible CLI for berthd.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/berth-project/berth/internal/cli"
)

// version is set at link time (-X main.version=...) for releases.
var version = "dev"

func main() {
	commit, built := buildInfo()
	os.Exit(cli.Main(context.Background(),
		cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr},
		os.Args[1:],
		cli.WithVersion(version, commit, built)))
}

// buildInfo reads the commit and its time from the Go build's VCS stamp.
func buildInfo() (commit, built string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", ""
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
			if len(commit) > 7 {
				commit = commit[:7]
			}
		case "vcs.time":
			built = s.Value
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return commit, built
}
