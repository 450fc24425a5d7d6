package content_test

import (
	"testing"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/content/contenttest"
)

func newLocalStore(t *testing.T, opts ...content.Opt) *content.LocalStore {
	t.Helper()
	s, err := content.NewStore(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

func reopen(t *testing.T, s content.Store) content.Store {
	t.Helper()
	s2, err := content.NewStore(s.(*content.LocalStore).Root())
	if err != nil {
		t.Fatalf("NewStore again: %v", err)
	}
	return s2
}

func TestLocalStore(t *testing.T) {
	t.Parallel()
	contenttest.Suite(t, func(t *testing.T) content.Store { return newLocalStore(t) }, contenttest.WithReopen(reopen))
}

// The suite again with a small limit, which no test blob reaches: the
// limit must not get in the way of blobs under it.
func TestLocalStoreSmallLimit(t *testing.T) {
	t.Parallel()
	contenttest.Suite(t, func(t *testing.T) content.Store { return newLocalStore(t, content.WithMaxBlobSize(8<<20)) })
}
