package distribution_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/image/imagetest"
	"github.com/berth-project/berth/internal/testenv/registrytest"
)

// TestTags lists a repository's tags across pages (more than one page of
// 100), sorted, and an unknown repository is not found.
func TestTags(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := registrytest.Start(t)
	img := randomImage(t, 1, 256, 43)
	var want []string
	for i := range 103 {
		tag := fmt.Sprintf("v%03d", i)
		imagetest.Push(t, reg, "many:"+tag, img)
		want = append(want, tag)
	}
	c, err := distribution.New()
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Tags(ctx, reg.Host+"/many:ignored")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tags: %d %q..., want %d", len(got), got[:min(len(got), 5)], len(want))
	}
	if _, err := c.Tags(ctx, reg.Host+"/nothing-here", fastRetries); !errdefs.IsNotFound(err) {
		t.Fatalf("tags of an unknown repository: %v", err)
	}
}
