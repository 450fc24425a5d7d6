package volume

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

// newStore opens a store on a fresh root of the test's own.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCreate(t *testing.T, s *Store, o CreateOptions) Volume {
	t.Helper()
	v, err := s.Create(context.Background(), o)
	if err != nil {
		t.Fatalf("create %+v: %v", o, err)
	}
	return v
}

func names(vols []Volume) []string {
	out := []string{}
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateInspectListRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	v := mustCreate(t, s, CreateOptions{Name: "data", Labels: map[string]string{"app": "web"}})
	if v.Name != "data" || v.Driver != "local" || v.Anonymous || v.RefCount != 0 {
		t.Fatalf("created %+v", v)
	}
	if want := filepath.Join(s.Root(), "data", "_data"); v.Mountpoint != want {
		t.Fatalf("mountpoint %s, want %s", v.Mountpoint, want)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Fatalf("data dir: %v %v", fi, err)
	}
	got, err := s.Get("data")
	if err != nil {
		t.Fatal(err)
	}
	api := got.API()
	if api.Scope != "local" || api.Labels["app"] != "web" || api.Options != nil || api.CreatedAt == "" {
		t.Fatalf("api %+v", api)
	}
	if _, err := s.Get("nope"); !errdefs.IsNotFound(err) || err.Error() != "get nope: no such volume" {
		t.Fatalf("get missing: %v", err)
	}
	mustCreate(t, s, CreateOptions{Name: "other"})
	list, err := s.List(ctx, nil)
	if err != nil || !slices.Equal(names(list), []string{"data", "other"}) {
		t.Fatalf("list %v %v", names(list), err)
	}
	if err := s.Remove(ctx, "data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "data")); !os.IsNotExist(err) {
		t.Fatalf("volume dir still there: %v", err)
	}
	if err := s.Remove(ctx, "data", false); !errdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Fatalf("second remove: %v", err)
	}
	if err := s.Remove(ctx, "data", true); err != nil {
		t.Fatalf("remove -f of a missing volume: %v", err)
	}
	assertNoLeftovers(t, s.Root())
}

// assertNoLeftovers checks the root holds only volume directories.
func assertNoLeftovers(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestAnonymousVolume(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	v := mustCreate(t, s, CreateOptions{Labels: map[string]string{"a": "b"}})
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(v.Name) {
		t.Fatalf("anonymous name %q", v.Name)
	}
	if !v.Anonymous || v.Labels[AnonymousLabel] != "" || v.Labels["a"] != "b" {
		t.Fatalf("anonymous volume %+v", v)
	}
	if _, ok := v.Labels[AnonymousLabel]; !ok {
		t.Fatal("no anonymous label")
	}
	w := mustCreate(t, s, CreateOptions{})
	if w.Name == v.Name {
		t.Fatal("two anonymous volumes share a name")
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
	first := mustCreate(t, s, CreateOptions{Name: "cache", DriverOpts: opts, Labels: map[string]string{"x": "1"}})
	again := mustCreate(t, s, CreateOptions{Name: "cache", DriverOpts: opts})
	if !again.CreatedAt.Equal(first.CreatedAt) || again.Labels["x"] != "1" {
		t.Fatalf("second create returned another volume: %+v", again)
	}
	// -v cache:/path asks for no options: the existing volume.
	plain := mustCreate(t, s, CreateOptions{Name: "cache", Driver: "local"})
	if plain.Options["type"] != "tmpfs" {
		t.Fatalf("create without options: %+v", plain)
	}
	_, err := s.Create(ctx, CreateOptions{Name: "cache", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}})
	if !errdefs.IsConflict(err) || !strings.HasPrefix(err.Error(), "create cache: ") {
		t.Fatalf("create with other options: %v", err)
	}
	// A reference taken by Create holds the volume.
	mustCreate(t, s, CreateOptions{Name: "cache", Reference: "c1"})
	if err := s.Remove(ctx, "cache", false); !errdefs.IsConflict(err) {
		t.Fatalf("remove of a volume created with a reference: %v", err)
	}
}

func TestCreateRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	long := strings.Repeat("a", 256)
	for _, c := range []struct {
		o     CreateOptions
		class func(error) bool
		msg   string
	}{
		{CreateOptions{Name: "a"}, errdefs.IsInvalidParameter,
			"create a: volume name is too short, names should be at least two alphanumeric characters"},
		{CreateOptions{Name: "a/b"}, errdefs.IsInvalidParameter,
			`create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{CreateOptions{Name: "../x"}, errdefs.IsInvalidParameter, ""},
		{CreateOptions{Name: ".hidden"}, errdefs.IsInvalidParameter, ""},
		{CreateOptions{Name: "-x"}, errdefs.IsInvalidParameter, ""},
		{CreateOptions{Name: "has space"}, errdefs.IsInvalidParameter, ""},
		{CreateOptions{Name: "/abs"}, errdefs.IsInvalidParameter, ""},
		{CreateOptions{Name: long}, errdefs.IsInvalidParameter, ""},
		{CreateOptions{Name: "vol", Driver: "nfsplugin"}, errdefs.IsNotFound,
			`create vol: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found`},
		{CreateOptions{Name: "vol", DriverOpts: map[string]string{"foo": "bar"}}, errdefs.IsInvalidParameter,
			`create vol: invalid option: "foo"`},
		{CreateOptions{Name: "vol", DriverOpts: map[string]string{"type": "tmpfs"}}, errdefs.IsInvalidParameter,
			`create vol: missing required option: "device"`},
		{CreateOptions{Name: "vol", DriverOpts: map[string]string{"device": "/dev/sda1"}}, errdefs.IsInvalidParameter,
			`create vol: missing required option: "type"`},
		{CreateOptions{Name: "vol", DriverOpts: map[string]string{"o": "size=1m"}}, errdefs.IsInvalidParameter,
			`create vol: missing required option: "device"`},
		{CreateOptions{Name: "vol", DriverOpts: map[string]string{"size": "10m"}}, errdefs.IsInvalidParameter,
			`create vol: quota size requested but no quota support`},
		{CreateOptions{Name: "vol", DriverOpts: map[string]string{"type": "cifs", "device": "//host:445/share"}}, errdefs.IsInvalidParameter,
			`create vol: port not allowed in CIFS device URL, include 'port' in 'o='`},
	} {
		_, err := s.Create(ctx, c.o)
		if err == nil || !c.class(err) || (c.msg != "" && err.Error() != c.msg) {
			t.Errorf("create %q %v: got %v, want %q", c.o.Name, c.o.DriverOpts, err, c.msg)
		}
	}
	if vols, _ := s.List(ctx, nil); len(vols) != 0 {
		t.Fatalf("rejected creates left volumes: %v", names(vols))
	}
	entries, _ := os.ReadDir(s.Root())
	if len(entries) != 0 {
		t.Fatalf("rejected creates left files: %v", entries)
	}
}

func TestInUseRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "shared"})
	idA := strings.Repeat("b", 64)
	idB := strings.Repeat("a", 64)
	if err := s.Acquire("shared", idA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount(ctx, "shared", idB); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("shared"); v.RefCount != 2 {
		t.Fatalf("refcount %d", v.RefCount)
	}
	want := "remove shared: volume is in use - [" + idB + ", " + idA + "]"
	for _, force := range []bool{false, true} {
		err := s.Remove(ctx, "shared", force)
		if !errdefs.IsConflict(err) || err.Error() != want {
			t.Fatalf("remove (force %v) of a volume in use: %v", force, err)
		}
	}
	if err := s.Unmount(ctx, "shared", idB); err != nil {
		t.Fatal(err)
	}
	// Unmount leaves the (stopped) container's reference.
	if err := s.Remove(ctx, "shared", false); !errdefs.IsConflict(err) {
		t.Fatalf("remove after unmount: %v", err)
	}
	if err := s.Release("shared", idB); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("shared", idA); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("shared", "never-held"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "shared", false); err != nil {
		t.Fatalf("remove once released: %v", err)
	}
	if err := s.Acquire("shared", idA); !errdefs.IsNotFound(err) {
		t.Fatalf("acquire of a removed volume: %v", err)
	}
	if err := s.Release("shared", idA); err != nil {
		t.Fatalf("release of a removed volume: %v", err)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, CreateOptions{Name: "web-data", Labels: map[string]string{"app": "web", "tier": "front"}})
	mustCreate(t, s, CreateOptions{Name: "db-data", Labels: map[string]string{"app": "db"}})
	mustCreate(t, s, CreateOptions{Name: "scratch"})
	if err := s.Acquire("db-data", "c1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    Filters
		want []string
	}{
		{nil, []string{"db-data", "scratch", "web-data"}},
		{Filters{"name": {"data"}}, []string{"db-data", "web-data"}},
		{Filters{"name": {"^web"}}, []string{"web-data"}},
		{Filters{"name": {"scratch", "db"}}, []string{"db-data", "scratch"}},
		{Filters{"name": {"["}}, []string{}},
		{Filters{"label": {"app"}}, []string{"db-data", "web-data"}},
		{Filters{"label": {"app=web"}}, []string{"web-data"}},
		{Filters{"label": {"app", "tier=front"}}, []string{"web-data"}},
		{Filters{"label": {"app=nope"}}, []string{}},
		{Filters{"dangling": {"true"}}, []string{"scratch", "web-data"}},
		{Filters{"dangling": {"1"}}, []string{"scratch", "web-data"}},
		{Filters{"dangling": {"false"}}, []string{"db-data"}},
		{Filters{"dangling": {"0"}, "label": {"app"}}, []string{"db-data"}},
		{Filters{"driver": {"local"}}, []string{"db-data", "scratch", "web-data"}},
		{Filters{"driver": {"other"}}, []string{}},
	} {
		got, err := s.List(ctx, c.f)
		if err != nil {
			t.Errorf("list %v: %v", c.f, err)
			continue
		}
		if !slices.Equal(names(got), c.want) {
			t.Errorf("list %v: %v, want %v", c.f, names(got), c.want)
		}
	}
	for _, c := range []struct {
		f   Filters
		msg string
	}{
		{Filters{"until": {"1h"}}, "invalid filter 'until'"},
		{Filters{"label!": {"a"}}, "invalid filter 'label!'"},
		{Filters{"dangling": {"maybe"}}, "invalid filter 'dangling=maybe'"},
		{Filters{"dangling": {"true", "false"}}, "invalid filter 'dangling=true,false'"},
	} {
		_, err := s.List(ctx, c.f)
		if !errdefs.IsInvalidParameter(err) || err.Error() != c.msg {
			t.Errorf("list %v: %v, want %q", c.f, err, c.msg)
		}
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	anonFree := mustCreate(t, s, CreateOptions{})
	anonUsed := mustCreate(t, s, CreateOptions{Reference: "c1"})
	anonLabelled := mustCreate(t, s, CreateOptions{Labels: map[string]string{"keep": "yes"}})
	mustCreate(t, s, CreateOptions{Name: "named"})
	mustCreate(t, s, CreateOptions{Name: "named-keep", Labels: map[string]string{"keep": "yes"}})
	mustCreate(t, s, CreateOptions{Name: "tmp", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}})
	if err := os.WriteFile(filepath.Join(anonFree.Mountpoint, "f"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}

	// Default: unused anonymous volumes, narrowed by label!.
	deleted, reclaimed, err := s.Prune(ctx, Filters{"label!": {"keep=yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{anonFree.Name}) || reclaimed != 1000 {
		t.Fatalf("prune: %v %d", deleted, reclaimed)
	}
	// all=true: named ones too, except used ones and ones with options.
	deleted, _, err = s.Prune(ctx, Filters{"all": {"true"}, "label": {"keep"}})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	want := []string{anonLabelled.Name, "named-keep"}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Fatalf("prune all label=keep: %v, want %v", deleted, want)
	}
	deleted, _, err = s.Prune(ctx, Filters{"all": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{"named"}) {
		t.Fatalf("prune all: %v", deleted)
	}
	left, _ := s.List(ctx, nil)
	want = []string{anonUsed.Name, "tmp"}
	slices.Sort(want)
	if !slices.Equal(names(left), want) {
		t.Fatalf("left after prunes: %v, want %v", names(left), want)
	}
	for _, c := range []struct {
		f   Filters
		msg string
	}{
		{Filters{"dangling": {"true"}}, "invalid filter 'dangling'"},
		{Filters{"all": {"maybe"}}, `invalid filter 'all': strconv.ParseBool: parsing "maybe": invalid syntax`},
		{Filters{"all": {"true", "false"}}, "invalid filter 'all=[true false]': only one value is expected"},
	} {
		_, _, err := s.Prune(ctx, c.f)
		if !errdefs.IsInvalidParameter(err) || err.Error() != c.msg {
			t.Errorf("prune %v: %v, want %q", c.f, err, c.msg)
		}
	}
	assertNoLeftovers(t, s.Root())
}

func TestUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	v := mustCreate(t, s, CreateOptions{Name: "sized"})
	write := func(name string, n int) {
		t.Helper()
		p := filepath.Join(v.Mountpoint, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 100)
	write("sub/b", 50)
	if err := os.Link(filepath.Join(v.Mountpoint, "a"), filepath.Join(v.Mountpoint, "sub", "a-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(v.Mountpoint, "sym")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Usage(ctx, "sized")
	if err != nil {
		t.Fatal(err)
	}
	if got != 151 { // 100 once for two links, 50, and the symlink's 1 byte
		t.Fatalf("usage %d, want 151", got)
	}
	if _, err := s.Usage(ctx, "nope"); !errdefs.IsNotFound(err) {
		t.Fatalf("usage of a missing volume: %v", err)
	}
	mustCreate(t, s, CreateOptions{Name: "tmp", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}})
	if err := s.Acquire("sized", "c1"); err != nil {
		t.Fatal(err)
	}
	du, err := s.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(du) != 1 || du[0].Name != "sized" || du[0].UsageData == nil || du[0].UsageData.Size != 151 || du[0].UsageData.RefCount != 1 {
		t.Fatalf("disk usage %+v", du)
	}
}
