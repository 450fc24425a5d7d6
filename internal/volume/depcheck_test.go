package volume

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps the volume store a domain package: it sits below
// the daemon, so of Berth's own packages it uses only the leaf ones
// (errors, atomic files, mounts), and of the API only the wire types.
func TestDependencies(t *testing.T) {
	t.Parallel()
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		"github.com/berth-project/berth/internal/errdefs",
		"github.com/berth-project/berth/internal/atomicfile",
		"github.com/berth-project/berth/internal/mount",
		"github.com/berth-project/berth/internal/linux",
		"github.com/moby/moby/api/types/",
		"github.com/cyphar/filepath-securejoin/",
		"golang.org/x/sys/unix",
	}
	for _, imp := range pkg.Imports {
		if !strings.Contains(imp, ".") {
			continue // the standard library
		}
		ok := false
		for _, a := range allowed {
			if imp == a || strings.HasPrefix(imp, a) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("internal/volume imports %s: it is a domain package, below the daemon", imp)
		}
	}
}
