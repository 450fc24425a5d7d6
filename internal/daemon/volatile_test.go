package daemon

import (
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/mount"
)

func TestWithVolatileOnlyTouchesOverlays(t *testing.T) {
	in := []mount.Mount{
		{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l", "upperdir=/u", "workdir=/w"}},
		{Type: "bind", Source: "/x", Options: []string{"rbind"}},
	}
	out := withVolatile(in)
	if !slices.Contains(out[0].Options, "volatile") {
		t.Errorf("overlay options %v lack volatile", out[0].Options)
	}
	if slices.Contains(out[1].Options, "volatile") {
		t.Errorf("bind options %v got volatile", out[1].Options)
	}
	if slices.Contains(in[0].Options, "volatile") {
		t.Errorf("the snapshotter's mounts were changed: %v", in[0].Options)
	}
}
