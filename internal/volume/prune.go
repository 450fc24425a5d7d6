package volume

import (
	"context"
	"errors"

	"github.com/berth-project/berth/internal/errdefs"
)

// Prune removes the volumes no container references, as docker 23 and
// later: only anonymous ones unless filters has all=true, narrowed by
// label and label! filters. Volumes with options are left alone, as
// docker does (their data is elsewhere: nothing to reclaim). It returns
// the names removed and the bytes their data took. A volume that cannot
// be removed is skipped with a warning; a cancelled ctx stops the prune
// and reports what was removed so far.
func (s *Store) Prune(ctx context.Context, filters Filters) (deleted []string, reclaimed uint64, err error) {
	if !s.pruning.CompareAndSwap(false, true) {
		return nil, 0, errdefs.Errorf(errdefs.ErrConflict, "a prune operation is already running")
	}
	defer s.pruning.Store(false)
	m, err := parseFilters(filters, pruneFilterKeys)
	if err != nil {
		return nil, 0, err
	}
	all, err := parseAll(filters["all"])
	if err != nil {
		return nil, 0, err
	}
	if !all {
		m.labels = append(m.labels, labelFilter{key: AnonymousLabel})
	}
	dangling := true
	m.dangling = &dangling
	deleted = []string{}
	for _, cand := range s.find(m) {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return deleted, reclaimed, err
		}
		if len(cand.Options) > 0 {
			continue
		}
		size, err := s.pruneOne(ctx, cand.Name)
		if err != nil {
			s.log.WarnContext(ctx, "volume prune: volume not removed", "volume", cand.Name, "err", err)
			continue
		}
		deleted = append(deleted, cand.Name)
		reclaimed += uint64(size)
	}
	return deleted, reclaimed, nil
}

// pruneOne measures and removes one volume, under its lock, so that a
// container taking it meanwhile wins over the prune.
func (s *Store) pruneOne(ctx context.Context, name string) (int64, error) {
	v, err := s.lockVolume(name)
	if err != nil {
		return 0, err
	}
	defer v.op.Unlock()
	size, err := diskUsage(ctx, v.dataPath())
	if err != nil {
		s.log.WarnContext(ctx, "volume prune: size not measured", "volume", name, "err", err)
		size = 0
	}
	if err := s.remove(ctx, v); err != nil {
		return 0, err
	}
	return size, nil
}
