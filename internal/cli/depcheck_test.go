package cli

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/berth-project/berth"

// TestDependencies enforces the CLI's boundary (DESIGN.md: the CLI speaks
// only the Engine API): its code and everything it imports from this
// module stay within the CLI, the client and the error classes, never the
// daemon, the server or the runtime. Test files are not counted.
func TestDependencies(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	allowed := func(pkg string) bool {
		rel := strings.TrimPrefix(pkg, module+"/")
		return rel == "internal/cli" || strings.HasPrefix(rel, "internal/cli/") ||
			rel == "internal/client" || rel == "internal/errdefs" || rel == "cmd/berth"
	}
	seen := map[string]bool{}
	var bad []string
	var walk func(pkg string)
	walk = func(pkg string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		if !allowed(pkg) {
			bad = append(bad, pkg)
			return
		}
		for _, imp := range moduleImports(t, filepath.Join(root, strings.TrimPrefix(pkg, module+"/"))) {
			walk(imp)
		}
	}
	walk(module + "/internal/cli")
	walk(module + "/cmd/berth")
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("the CLI depends on %v", bad)
	}
}

// moduleImports lists the imports of this module in dir's non-test files.
func moduleImports(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module+"/") {
				out = append(out, p)
			}
		}
	}
	return out
}
