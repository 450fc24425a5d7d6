package cli

import (
	"context"
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type logsOptions struct {
	follow, timestamps, details bool
	since, until, tail          string
}

func newLogsCommand(a *app) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), a, o, args[0])
		},
		Annotations:           map[string]string{"aliases": "berth container logs, berth logs"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	f.StringVar(&o.since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.StringVar(&o.until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	f.BoolVar(&o.details, "details", false, "Show extra details provided to logs")
	f.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

// runLogs copies the container's log: as it is for a tty container, else
// split back into stdout and stderr.
func runLogs(ctx context.Context, a *app, o logsOptions, name string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	info, err := c.ContainerInspect(ctx, name, sdk.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	logs, err := c.ContainerLogs(ctx, info.Container.ID, sdk.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Since: o.since, Until: o.until,
		Timestamps: o.timestamps, Follow: o.follow, Tail: o.tail, Details: o.details,
	})
	if err != nil {
		return err
	}
	defer logs.Close()
	if info.Container.Config != nil && info.Container.Config.Tty {
		_, err = io.Copy(a.streams.Out, logs)
	} else {
		_, err = stdcopy.StdCopy(a.streams.Out, a.streams.Err, logs)
	}
	return err
}
