package volume

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// TestConcurrentUse races creates, references, removes and prunes on the
// same names: every call ends in a documented result, and a volume a
// reference was taken on is never removed under it.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref := fmt.Sprintf("c%d", g)
			for i := range 20 {
				name := fmt.Sprintf("v%d", i%3)
				if _, err := s.Create(ctx, CreateOptions{Name: name, Reference: ref}); err != nil {
					errs <- fmt.Errorf("create %s: %w", name, err)
					continue
				}
				// Held: no remove or prune may take it now.
				if _, err := s.Mount(ctx, name, ref); err != nil {
					errs <- fmt.Errorf("mount %s held by %s: %w", name, ref, err)
				}
				if err := s.Unmount(ctx, name, ref); err != nil {
					errs <- err
				}
				_ = s.Release(name, ref)
				if err := s.Remove(ctx, name, true); err != nil && !errdefs.IsConflict(err) {
					errs <- fmt.Errorf("remove %s: %w", name, err)
				}
				if _, _, err := s.Prune(ctx, Filters{"all": {"true"}}); err != nil && !errdefs.IsConflict(err) {
					errs <- fmt.Errorf("prune: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertNoLeftovers(t, s.Root())
}
