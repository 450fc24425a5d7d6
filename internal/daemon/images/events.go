package images

import (
	"context"
	"strconv"

	"github.com/moby/moby/api/types/events"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/image"
)

// event publishes an image event as docker's daemon words it: the actor
// is id (an image ID, or for pull and push the reference), its attributes
// the image's labels when it still exists, plus "name".
func (s *Service) event(ctx context.Context, action events.Action, id, name string) {
	if s.opts.Events == nil {
		return
	}
	attrs := map[string]string{}
	if img, err := s.store.Get(ctx, id); err == nil {
		if res, err := s.store.Resolve(ctx, img); err == nil {
			for k, v := range res.Config.Config.Labels {
				attrs[k] = v
			}
		}
	}
	if name != "" {
		attrs["name"] = name
	}
	s.opts.Events.Publish(events.Message{
		Type:   events.ImageEventType,
		Action: action,
		Actor:  events.Actor{ID: id, Attributes: attrs},
	})
}

// idEvent is the events about an image by its ID (untag, delete, import,
// load, save): docker names the actor and "name" both by the ID.
func (s *Service) idEvent(ctx context.Context, action events.Action, id digest.Digest) {
	s.event(ctx, action, id.String(), id.String())
}

// pruneEvent is docker's closing event of an image prune.
func (s *Service) pruneEvent(reclaimed uint64) {
	if s.opts.Events == nil {
		return
	}
	s.opts.Events.Publish(events.Message{
		Type:   events.ImageEventType,
		Action: events.ActionPrune,
		Actor:  events.Actor{Attributes: map[string]string{"reclaimed": strconv.FormatUint(reclaimed, 10)}},
	})
}

// resolve returns the record ref names and its image ID, with docker's
// "No such image" when there is none.
func (s *Service) resolve(ctx context.Context, ref string) (image.Image, digest.Digest, error) {
	img, err := s.store.Get(ctx, ref)
	if err != nil {
		return image.Image{}, "", noSuchImage(ref, err)
	}
	res, err := s.store.Resolve(ctx, img)
	if err != nil {
		return image.Image{}, "", err
	}
	return img, res.ID(), nil
}
