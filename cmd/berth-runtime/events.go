package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// event is one line of `events` output, in runc's shape.
type event struct {
	Type string         `json:"type"`
	ID   string         `json:"id"`
	Data *cgroups.Stats `json:"data,omitempty"`
}

func newEventsCommand(g *globals) *command {
	var stats bool
	var interval time.Duration
	cmd := &command{
		usage: "events [--stats] [--interval 5s] <container-id>",
		short: "print a container's resource usage, once (--stats) or every interval, as JSON lines",
		args:  exactArgs(1),
		run: func(ctx context.Context, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			if stats {
				s, err := c.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: c.ID(), Data: s})
			}
			return streamEvents(ctx, c, enc, interval)
		},
	}
	cmd.flags.Bool(&stats, "stats", 0, "print the stats once and exit")
	cmd.flags.Duration(&interval, "interval", 5*time.Second, "time between stats")
	return cmd
}

// streamEvents prints stats every interval, and an "oom" event whenever
// the cgroup's OOM kill count rises, until the container stops.
func streamEvents(ctx context.Context, c *runtime.Container, enc *json.Encoder, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	var lastOOM uint64
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if c.Status() == specs.StateStopped {
			return nil
		}
		s, err := c.Stats()
		if err != nil {
			return err
		}
		if s.Memory != nil && s.Memory.OOMKillEvents > lastOOM {
			enc.Encode(event{Type: "oom", ID: c.ID()})
			lastOOM = s.Memory.OOMKillEvents
		}
		if err := enc.Encode(event{Type: "stats", ID: c.ID(), Data: s}); err != nil {
			return err
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
	}
}
