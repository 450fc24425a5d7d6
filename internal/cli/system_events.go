package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
	"github.com/berth-project/berth/internal/cli/opts"
)

// rfc3339NanoFixed keeps nine fraction digits so the columns line up.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

type eventsOptions struct {
	since, until, format string
	filter               *opts.Filter
}

func newEventsCommand(a *app) *cobra.Command {
	o := eventsOptions{filter: opts.NewFilter()}
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEvents(cmd.Context(), a, o)
		},
		Annotations:           map[string]string{"aliases": "berth system events, berth events"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "Show all events created since timestamp")
	f.StringVar(&o.until, "until", "", "Stream events until this timestamp")
	f.VarP(o.filter, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", inspectFormatHelp)
	return cmd
}

func runEvents(ctx context.Context, a *app, o eventsOptions) error {
	text := o.format
	if text == format.JSON {
		text = "{{json .}}"
	}
	var print func(io.Writer, events.Message) error
	if text == "" {
		print = printEvent
	} else {
		tmpl, err := format.Parse(text)
		if err != nil {
			return StatusError{Status: "template parsing error: " + err.Error(), Code: 64}
		}
		print = func(w io.Writer, m events.Message) error {
			if err := tmpl.Execute(w, m); err != nil {
				return err
			}
			_, err := fmt.Fprintln(w)
			return err
		}
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := c.Events(ctx, sdk.EventsListOptions{Since: o.since, Until: o.until, Filters: o.filter.Filters()})
	for {
		select {
		case m := <-res.Messages:
			if err := print(a.streams.Out, m); err != nil {
				return err
			}
		case err := <-res.Err:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// printEvent is docker's line: time, type, action, actor and its
// attributes in sorted order.
func printEvent(w io.Writer, m events.Message) error {
	if m.TimeNano != 0 {
		fmt.Fprintf(w, "%s ", time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed))
	} else if m.Time != 0 {
		fmt.Fprintf(w, "%s ", time.Unix(m.Time, 0).Format(rfc3339NanoFixed))
	}
	fmt.Fprintf(w, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + m.Actor.Attributes[k]
		}
		fmt.Fprintf(w, " (%s)", strings.Join(attrs, ", "))
	}
	_, err := fmt.Fprintln(w)
	return err
}
