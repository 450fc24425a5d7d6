package daemon

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/errdefs"
)

// EventBus is what the daemon needs of the event service
// (internal/events.Bus): publish container events, and serve GET /events.
type EventBus interface {
	Publish(m events.Message)
	Subscribe(ctx context.Context, since, until time.Time, filters map[string][]string, send func(events.Message) error) error
	Close()
}

type eventBus = EventBus

// discardEvents is the bus of a daemon built without one: events go
// nowhere and GET /events says so.
type discardEvents struct{}

func (discardEvents) Publish(events.Message) {}

func (discardEvents) Subscribe(context.Context, time.Time, time.Time, map[string][]string, func(events.Message) error) error {
	return errdefs.Errorf(errdefs.ErrNotImplemented, "events are not available in this build of berthd")
}

func (discardEvents) Close() {}
