// Package events is the daemon's event bus: every part of the engine
// publishes what happened (a container started, an image was pulled) and
// GET /events subscribers receive it, filtered as docker filters events.
//
// The bus keeps the last events (1000 by default) so that a subscriber
// asking for events --since a past time gets them replayed before the live
// ones, with no gap and no duplicate between the two: the replay is read
// and the subscription registered under one lock.
//
// Publish never blocks: each subscriber has a bounded queue, and one that
// falls so far behind that its queue fills is dropped (its Subscribe
// returns an error) rather than holding up the engine or growing without
// bound.
package events
