package volume

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// TestOpenAfterCrash reopens a store whose root holds what crashes and
// strangers leave: every interrupted step is finished or undone, and no
// volume data is lost.
func TestOpenAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	root := s.Root()
	mustCreate(t, s, CreateOptions{Name: "good"})
	mustCreate(t, s, CreateOptions{Name: "labelled", Labels: map[string]string{"k": "v"},
		DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}})
	anon := mustCreate(t, s, CreateOptions{})

	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A create cut short before its rename, and a remove cut short
	// after its rename.
	write(".tmp-0123456789abcdef/_data/f", "half created")
	write(".tmp-0123456789abcdef/volume.json", `{"version":1,"name":"ghost","driver":"local"}`)
	write(".rm-fedcba9876543210/_data/sub/f", "half removed")
	// atomicfile's temporary file from a record write cut short.
	write("good/.tmp-volume.json-4242", `{"vers`)
	// A record torn by something else than atomicfile: the data stays.
	write("torn/volume.json", `{"version":1,"name":"to`)
	write("torn/_data/precious", "user data")
	// Neither a record nor data.
	write("nodata/volume.json", "")
	// A newer engine's record: not ours to rewrite.
	write("newer/volume.json", `{"version":99,"name":"newer","driver":"local"}`)
	write("newer/_data/f", "x")
	// Strangers.
	write("README", "not a volume")
	if err := os.Mkdir(filepath.Join(root, "x"), 0o755); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s2.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{anon.Name, "good", "labelled", "torn"}
	slices.Sort(want)
	if !slices.Equal(names(list), want) {
		t.Fatalf("volumes after reopen %v, want %v", names(list), want)
	}
	for _, gone := range []string{".tmp-0123456789abcdef", ".rm-fedcba9876543210", "good/.tmp-volume.json-4242", "nodata"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s not cleaned up: %v", gone, err)
		}
	}
	for _, kept := range []string{"newer/volume.json", "newer/_data/f", "README", "x"} {
		if _, err := os.Lstat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s removed: %v", kept, err)
		}
	}
	l, err := s2.Get("labelled")
	if err != nil || l.Labels["k"] != "v" || l.Options["o"] != "size=1m" {
		t.Fatalf("labelled after reopen: %+v %v", l, err)
	}
	if a, _ := s2.Get(anon.Name); !a.Anonymous {
		t.Fatal("anonymous flag lost")
	}
	torn, err := s2.Get("torn")
	if err != nil || len(torn.Options) != 0 || torn.Driver != "local" {
		t.Fatalf("torn volume: %+v %v", torn, err)
	}
	if b, err := os.ReadFile(filepath.Join(torn.Mountpoint, "precious")); err != nil || string(b) != "user data" {
		t.Fatalf("torn volume's data: %q %v", b, err)
	}
	var rec record
	b, _ := os.ReadFile(filepath.Join(root, "torn", recordFile))
	if err := json.Unmarshal(b, &rec); err != nil || rec.Name != "torn" {
		t.Fatalf("torn record not rewritten: %s %v", b, err)
	}
	if _, err := s2.Create(ctx, CreateOptions{Name: "newer"}); !errdefs.IsConflict(err) {
		t.Fatalf("create over an unreadable volume: %v", err)
	}
	// A third open finds a clean store.
	s3, err := Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if l3, _ := s3.List(ctx, nil); !slices.Equal(names(l3), want) {
		t.Fatalf("third open: %v", names(l3))
	}
}
