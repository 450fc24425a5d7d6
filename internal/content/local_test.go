package content_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/content/contenttest"
	"github.com/berth-project/berth/internal/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func writeBlob(t *testing.T, s content.Ingester, data []byte, desc ocispec.Descriptor, opts ...content.WriteOpt) {
	t.Helper()
	if err := content.WriteBlob(t.Context(), s, content.RefFor(desc), bytes.NewReader(data), desc, opts...); err != nil {
		t.Fatalf("WriteBlob: %v", err)
	}
}

// partialIngest leaves an ingest of desc holding n bytes of data.
func partialIngest(t *testing.T, s content.Ingester, ref string, data []byte, desc ocispec.Descriptor, n int) {
	t.Helper()
	w, err := s.Writer(t.Context(), ref, desc)
	if err != nil {
		t.Fatalf("Writer: %v", err)
	}
	if _, err := w.Write(data[:n]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func refDir(root, ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(root, "ingest", hex.EncodeToString(sum[:]))
}

func blobFile(root string, d digest.Digest) string {
	return filepath.Join(root, "blobs", d.Algorithm().String(), d.Encoded())
}

func labelsFile(root string, d digest.Digest) string {
	return filepath.Join(root, "labels", d.Algorithm().String(), d.Encoded())
}

func mustCheck(t *testing.T, s *content.LocalStore, opts ...content.CheckOpt) *content.Report {
	t.Helper()
	r, err := s.Check(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return r
}

func wantClean(t *testing.T, r *content.Report) {
	t.Helper()
	for _, p := range r.Problems {
		t.Errorf("Check: %s", p)
	}
}

// TestLayout pins the on-disk layout that LocalStore documents.
func TestLayout(t *testing.T) {
	t.Parallel()
	s := newLocalStore(t)
	root := s.Root()
	data, desc := contenttest.Blob(1, 1000)
	writeBlob(t, s, data, desc, content.WithLabels(map[string]string{"k": "v"}))

	fi, err := os.Stat(blobFile(root, desc.Digest))
	if err != nil || fi.Size() != desc.Size || fi.Mode().Perm() != 0o444 {
		t.Errorf("blob file: %v, %v; want %d bytes, mode 0444", fi, err, desc.Size)
	}
	b, err := os.ReadFile(labelsFile(root, desc.Digest))
	var labels map[string]string
	if err != nil || json.Unmarshal(b, &labels) != nil || !maps.Equal(labels, map[string]string{"k": "v"}) {
		t.Errorf("labels file: %q, %v", b, err)
	}

	data2, desc2 := contenttest.Blob(2, 1000)
	partialIngest(t, s, "my-ref", data2, desc2, 10)
	dir := refDir(root, "my-ref")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"data", "expected", "ref", "startedat", "total", "updatedat"}; !slices.Equal(names, want) {
		t.Errorf("ingest directory holds %v; want %v", names, want)
	}
	for name, want := range map[string]string{"ref": "my-ref", "total": "1000", "expected": desc2.Digest.String()} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("ingest file %s: %q, want %q", name, b, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "data")); err != nil || fi.Size() != 10 {
		t.Errorf("ingest data: %v, %v", fi, err)
	}
	entries, _ = os.ReadDir(filepath.Join(root, "ingest"))
	if len(entries) != 1 {
		t.Errorf("ingest/ holds %d entries, want 1 (no temporaries left)", len(entries))
	}
	entries, _ = os.ReadDir(root)
	names = names[:0]
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"blobs", "ingest", "labels", "lock"}; !slices.Equal(names, want) {
		t.Errorf("root holds %v, want %v", names, want)
	}
}

// TestHostileRefs checks that refs shaped like paths never reach outside
// the store: the ref is only ever a hash in a directory name.
func TestHostileRefs(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	s, err := content.NewStore(filepath.Join(parent, "store"))
	if err != nil {
		t.Fatal(err)
	}
	data, desc := contenttest.Blob(3, 100)
	refs := []string{"../x", "../../../../../../tmp/berth-escape", "/abs", "a/../../../b", ".", "..", "..\\..\\x", strings.Repeat("../", 300), "blob-sha256:../../x"}
	for _, ref := range refs {
		partialIngest(t, s, ref, data, desc, 10)
		if _, err := os.Stat(refDir(s.Root(), ref)); err != nil {
			t.Errorf("ref %.30q: ingest not under its hash: %v", ref, err)
		}
		st, err := s.Status(t.Context(), ref)
		if err != nil || st.Ref != ref {
			t.Errorf("Status(%.30q): %+v, %v", ref, st, err)
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("the store's parent holds %d entries; want only the store", len(entries))
	}
	if _, err := os.Stat("/tmp/berth-escape"); err == nil {
		t.Errorf("a ref escaped the store")
	}
	err = filepath.WalkDir(s.Root(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			t.Errorf("symlink in the store: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMaxBlobSize(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newLocalStore(t, content.WithMaxBlobSize(1000))
	w, err := s.Writer(ctx, "big", ocispec.Descriptor{Size: 1001})
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("Writer of 1001 bytes with a limit of 1000: %v; want InvalidParameter", err)
	}
	if w != nil {
		w.Close()
	}
	w, err = s.Writer(ctx, "unknown", ocispec.Descriptor{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	n, err := w.Write(make([]byte, 1001))
	if n > 1000 || !errdefs.IsInvalidParameter(err) {
		t.Errorf("Write of 1001 bytes with a limit of 1000: %d, %v; want at most 1000, InvalidParameter", n, err)
	}
	for _, n := range []int64{0, -1} {
		if _, err := content.NewStore(t.TempDir(), content.WithMaxBlobSize(n)); !errdefs.IsInvalidParameter(err) {
			t.Errorf("NewStore with a limit of %d: %v; want InvalidParameter", n, err)
		}
	}
	if _, err := content.NewStore(""); !errdefs.IsInvalidParameter(err) {
		t.Errorf("NewStore with no root: %v; want InvalidParameter", err)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	s := newLocalStore(t)
	var want int64
	for i := range 4 {
		data, desc := contenttest.Blob(uint64(10+i), 1000*i)
		writeBlob(t, s, data, desc)
		want += desc.Size
	}
	data, desc := contenttest.Blob(20, 5000)
	partialIngest(t, s, "partial", data, desc, 3000)
	if got, err := s.Usage(t.Context()); err != nil || got != want {
		t.Errorf("Usage: %d, %v; want %d (ingests do not count)", got, err, want)
	}
}

// TestReadBlobDetectsRot checks that a blob changed on disk after its
// commit is not handed out as good.
func TestReadBlobDetectsRot(t *testing.T) {
	t.Parallel()
	s := newLocalStore(t)
	data, desc := contenttest.Blob(4, 1000)
	writeBlob(t, s, data, desc)
	corrupt(t, blobFile(s.Root(), desc.Digest))
	if _, err := content.ReadBlob(t.Context(), s, desc); !errors.Is(err, content.ErrDigestMismatch) {
		t.Errorf("ReadBlob of a rotten blob: %v; want ErrDigestMismatch", err)
	}
}

// corrupt flips a byte in the middle of a file.
func corrupt(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := []byte{0}
	f.ReadAt(b, fi.Size()/2)
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func kinds(r *content.Report) map[content.ProblemKind]int {
	m := map[content.ProblemKind]int{}
	for _, p := range r.Problems {
		m[p.Kind]++
	}
	return m
}

func TestCheckClean(t *testing.T) {
	t.Parallel()
	s := newLocalStore(t)
	for i := range 5 {
		data, desc := contenttest.Blob(uint64(30+i), 10_000*i)
		writeBlob(t, s, data, desc, content.WithLabels(map[string]string{"n": "x"}))
	}
	data, desc := contenttest.Blob(40, 5000)
	partialIngest(t, s, "partial", data, desc, 3000)
	r := mustCheck(t, s)
	wantClean(t, r)
	if !r.OK() || r.Checked["content.blobs"] != 5 || r.Checked["content.labels"] != 5 || r.Checked["content.ingests"] != 1 || r.Checked["content.bytes"] != 100_000 {
		t.Errorf("Check counted %v", r.Checked)
	}
}

// TestCheckFindsAndRepairs damages a store in every way Check knows,
// checks that it finds each, repairs what it may, and leaves the rest.
func TestCheckFindsAndRepairs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newLocalStore(t)
	root := s.Root()

	rotten, rottenDesc := contenttest.Blob(50, 10_000)
	writeBlob(t, s, rotten, rottenDesc, content.WithLabels(map[string]string{"k": "v"}))
	corrupt(t, blobFile(root, rottenDesc.Digest))

	cut, cutDesc := contenttest.Blob(51, 10_000)
	writeBlob(t, s, cut, cutDesc)
	if err := os.Truncate(blobFile(root, cutDesc.Digest), 0); err != nil {
		t.Fatal(err)
	}

	good, goodDesc := contenttest.Blob(52, 10_000)
	writeBlob(t, s, good, goodDesc)
	badLabels, badLabelsDesc := contenttest.Blob(53, 100)
	writeBlob(t, s, badLabels, badLabelsDesc)
	write := func(p, text string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(labelsFile(root, badLabelsDesc.Digest), "{not json")
	_, orphan := contenttest.Blob(54, 100)
	write(labelsFile(root, orphan.Digest), `{"k":"v"}`)
	write(filepath.Join(root, "labels/sha256/.tmp-123"), "{}")
	write(filepath.Join(root, "blobs/sha256/.tmp-123"), "x")
	write(filepath.Join(root, "blobs/sha256/junk"), "x")
	write(filepath.Join(root, "stray-at-root"), "x")
	write(filepath.Join(root, "ingest/.trash-1/data"), "x")
	write(filepath.Join(root, "ingest/.tmp-1/ref"), "x")
	write(filepath.Join(refDir(root, "torn"), "ref"), "") // a setup torn by a power cut

	// A stale ingest, and an equally old one that a live writer holds.
	staleData, staleDesc := contenttest.Blob(55, 1000)
	partialIngest(t, s, "stale", staleData, staleDesc, 100)
	partialIngest(t, s, "held", staleData, staleDesc, 100)
	old := time.Now().Add(-48 * time.Hour)
	for _, ref := range []string{"stale", "held"} {
		write(filepath.Join(refDir(root, ref), "updatedat"), old.Format(time.RFC3339Nano))
		os.Chtimes(filepath.Join(refDir(root, ref), "data"), old, old)
	}
	held, err := s.Writer(ctx, "held", ocispec.Descriptor{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// A fresh ingest is fine.
	partialIngest(t, s, "fresh", staleData, staleDesc, 100)

	want := map[content.ProblemKind]int{
		content.ProblemCorruptBlob:   1,
		content.ProblemTruncatedBlob: 1,
		content.ProblemBadLabels:     1,
		content.ProblemOrphanLabels:  1,
		content.ProblemStray:         6,
		content.ProblemBadIngest:     1,
		content.ProblemStaleIngest:   1,
	}
	r := mustCheck(t, s)
	if got := kinds(r); !maps.Equal(got, want) {
		t.Errorf("Check found %v; want %v", got, want)
		for _, p := range r.Problems {
			t.Log(p)
		}
	}
	if len(r.Unrepaired()) != len(r.Problems) {
		t.Errorf("Check without WithRepair repaired something")
	}
	if _, err := os.Stat(blobFile(root, rottenDesc.Digest)); err != nil {
		t.Errorf("Check without WithRepair moved a blob: %v", err)
	}

	quick := mustCheck(t, s, content.WithoutRehash())
	if k := kinds(quick); k[content.ProblemCorruptBlob] != 0 || k[content.ProblemTruncatedBlob] != 1 {
		t.Errorf("quick Check found %v; want the truncated blob but not the corrupt one", k)
	}
	if k := kinds(mustCheck(t, s, content.WithIngestExpiry(0))); k[content.ProblemStaleIngest] != 0 {
		t.Errorf("Check with no expiry found %d stale ingests", k[content.ProblemStaleIngest])
	}

	r = mustCheck(t, s, content.WithRepair())
	if got := kinds(r); !maps.Equal(got, want) {
		t.Errorf("repairing Check found %v; want %v", got, want)
	}
	var left []string
	for _, p := range r.Unrepaired() {
		left = append(left, p.Subject)
	}
	slices.Sort(left)
	if wantLeft := []string{"blobs/sha256/junk", "stray-at-root"}; !slices.Equal(left, wantLeft) {
		t.Errorf("left unrepaired: %v; want only what is not ours: %v", left, wantLeft)
	}
	for _, d := range []digest.Digest{rottenDesc.Digest, cutDesc.Digest} {
		if _, err := s.Info(ctx, d); !errdefs.IsNotFound(err) {
			t.Errorf("Info of a quarantined blob: %v; want NotFound", err)
		}
	}
	q, _ := filepath.Glob(filepath.Join(root, "quarantine/sha256/*"))
	if len(q) != 3 { // two blobs and the labels of one
		t.Errorf("quarantine holds %v; want the two bad blobs and one labels file", q)
	}
	if _, err := s.Status(ctx, "stale"); !errdefs.IsNotFound(err) {
		t.Errorf("stale ingest after repair: %v; want NotFound", err)
	}
	for _, ref := range []string{"held", "fresh"} {
		if _, err := s.Status(ctx, ref); err != nil {
			t.Errorf("ingest %s after repair: %v; want it kept", ref, err)
		}
	}
	checkReadable(t, s, good, goodDesc)

	r = mustCheck(t, s)
	if got := kinds(r); !maps.Equal(got, map[content.ProblemKind]int{content.ProblemStray: 2}) {
		t.Errorf("Check after repair found %v; want only the two strays not ours", got)
	}
	if r.Checked["content.quarantined"] != 2 {
		t.Errorf("Check counted %d quarantined blobs, want 2", r.Checked["content.quarantined"])
	}
	// The bad blobs can be ingested again.
	writeBlob(t, s, rotten, rottenDesc)
	writeBlob(t, s, cut, cutDesc)
	checkReadable(t, s, rotten, rottenDesc)
}

func checkReadable(t *testing.T, s content.Provider, data []byte, desc ocispec.Descriptor) {
	t.Helper()
	got, err := content.ReadBlob(t.Context(), s, desc)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlob %s: %d bytes, %v", desc.Digest, len(got), err)
	}
}

func TestReportMerge(t *testing.T) {
	t.Parallel()
	a := &content.Report{}
	a.Count("content.blobs", 2)
	a.Add(content.Problem{Kind: content.ProblemStray, Subject: "x", Repair: "removed"})
	b := &content.Report{}
	b.Count("content.blobs", 3)
	b.Count("image.images", 1)
	b.Add(content.Problem{Kind: "image.missing-blob", Subject: "y"})
	a.Merge(b)
	if a.Checked["content.blobs"] != 5 || a.Checked["image.images"] != 1 || len(a.Problems) != 2 || a.OK() || len(a.Unrepaired()) != 1 {
		t.Errorf("merged: %+v", a)
	}
}

// TestRecovery leaves what crashes leave, and checks that NewStore clears
// exactly that: never a blob, never an ingest someone holds or could
// resume.
func TestRecovery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newLocalStore(t)
	root := s.Root()

	blob, blobDesc := contenttest.Blob(60, 1000)
	writeBlob(t, s, blob, blobDesc, content.WithLabels(map[string]string{"k": "v"}))
	resumable, resumableDesc := contenttest.Blob(61, 1000)
	partialIngest(t, s, "resumable", resumable, resumableDesc, 400)
	partialIngest(t, s, "held", resumable, resumableDesc, 300)
	held, err := s.Writer(ctx, "held", ocispec.Descriptor{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	write := func(p, text string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A commit that crashed after moving the data: metadata, no data.
	committed, committedDesc := contenttest.Blob(62, 1000)
	partialIngest(t, s, "committed", committed, committedDesc, 1000)
	os.Remove(filepath.Join(refDir(root, "committed"), "data"))
	write(filepath.Join(root, "ingest/.tmp-setup/ref"), "x")
	write(filepath.Join(root, "ingest/.trash-removal/data"), "x")
	write(filepath.Join(root, "labels/sha256/.tmp-labels"), "{}")
	_, orphan := contenttest.Blob(63, 10)
	write(labelsFile(root, orphan.Digest), `{"k":"v"}`)

	s2, err := content.NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	wantClean(t, mustCheck(t, s2))
	for _, p := range []string{"ingest/.tmp-setup", "ingest/.trash-removal", "labels/sha256/.tmp-labels", labelsFile(root, orphan.Digest)[len(root)+1:], refDir(root, "committed")[len(root)+1:]} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived recovery: %v", p, err)
		}
	}
	checkReadable(t, s2, blob, blobDesc)
	if info, _ := s2.Info(ctx, blobDesc.Digest); info.Labels["k"] != "v" {
		t.Errorf("labels of a committed blob after recovery: %v", info.Labels)
	}
	if st, err := s2.Status(ctx, "resumable"); err != nil || st.Offset != 400 {
		t.Errorf("resumable ingest after recovery: %+v, %v", st, err)
	}
	if st, err := s2.Status(ctx, "held"); err != nil || st.Offset != 300 {
		t.Errorf("held ingest after recovery: %+v, %v", st, err)
	}
	// The held writer still works, and commits.
	if _, err := held.Write(resumable[300:]); err != nil {
		t.Fatal(err)
	}
	if err := held.Commit(ctx, 0, "", nil); err != nil {
		t.Fatalf("Commit of the held writer after recovery: %v", err)
	}
	writeBlob(t, s2, resumable, resumableDesc)
}

func TestVerifiedReader(t *testing.T) {
	t.Parallel()
	data, desc := contenttest.Blob(70, 100_000)
	other, _ := contenttest.Blob(71, 100_000)
	empty := ocispec.Descriptor{Digest: digest.FromBytes(nil)}
	d512 := ocispec.Descriptor{Digest: digest.SHA512.FromBytes(data), Size: desc.Size}
	tests := []struct {
		name string
		r    io.Reader
		desc ocispec.Descriptor
		want error // nil: reads the whole blob
	}{
		{"exact", bytes.NewReader(data), desc, nil},
		{"exact, byte by byte", iotest.OneByteReader(bytes.NewReader(data)), desc, nil},
		{"exact, EOF with the data", iotest.DataErrReader(bytes.NewReader(data)), desc, nil},
		{"sha512", bytes.NewReader(data), d512, nil},
		{"empty", bytes.NewReader(nil), empty, nil},
		{"short", bytes.NewReader(data[:len(data)-1]), desc, content.ErrSizeMismatch},
		{"short, EOF with the data", iotest.DataErrReader(bytes.NewReader(data[:len(data)-1])), desc, io.ErrUnexpectedEOF},
		{"long", io.MultiReader(bytes.NewReader(data), strings.NewReader("x")), desc, content.ErrSizeMismatch},
		{"long, EOF with the data", iotest.DataErrReader(io.MultiReader(bytes.NewReader(data), strings.NewReader("x"))), desc, content.ErrSizeMismatch},
		{"endless", zeros{}, desc, content.ErrSizeMismatch},
		{"wrong", bytes.NewReader(other), desc, content.ErrDigestMismatch},
		{"wrong empty", strings.NewReader("x"), empty, content.ErrSizeMismatch},
		{"read error", iotest.TimeoutReader(bytes.NewReader(data)), desc, iotest.ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := content.NewVerifiedReader(tc.r, tc.desc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(v)
			if int64(len(got)) > tc.desc.Size {
				t.Errorf("read %d bytes, more than the declared %d", len(got), tc.desc.Size)
			}
			if tc.want == nil {
				if err != nil || int64(len(got)) != tc.desc.Size {
					t.Errorf("ReadAll: %d bytes, %v; want the blob", len(got), err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("ReadAll: %v; want %v", err, tc.want)
			}
			// Failed once, failed for good.
			if _, err2 := v.Read(make([]byte, 10)); err2 == nil || err2 == io.EOF {
				t.Errorf("Read after %v: %v", err, err2)
			}
		})
	}

	// A consumer that stops at the blob's length still learns it is wrong.
	v, _ := content.NewVerifiedReader(bytes.NewReader(other), desc)
	if _, err := io.ReadFull(v, make([]byte, desc.Size)); !errors.Is(err, content.ErrDigestMismatch) {
		t.Errorf("ReadFull of the wrong data: %v; want ErrDigestMismatch", err)
	}

	for _, d := range append(slices.Clone(contenttest.BadDigests), "") {
		if _, err := content.NewVerifiedReader(bytes.NewReader(data), ocispec.Descriptor{Digest: d}); !errdefs.IsInvalidParameter(err) {
			t.Errorf("NewVerifiedReader(%.30q): %v; want InvalidParameter", d, err)
		}
	}
	if _, err := content.NewVerifiedReader(bytes.NewReader(data), ocispec.Descriptor{Digest: desc.Digest, Size: -1}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("NewVerifiedReader with a negative size: %v; want InvalidParameter", err)
	}
}

// zeros is an endless stream, as a hostile server might send.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestRedundantIngestDropped checks that an ingest of a blob committed
// some other way is thrown away when a Writer finds the blob there, and
// that an ingest of another blob under the same ref is not.
func TestRedundantIngestDropped(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newLocalStore(t)
	data, desc := contenttest.Blob(80, 1000)
	ref := content.RefFor(desc)
	partialIngest(t, s, ref, data, desc, 500)
	if err := content.WriteBlob(ctx, s, "another-ref", bytes.NewReader(data), desc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Writer(ctx, ref, desc); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("Writer: %v; want AlreadyExists", err)
	}
	if _, err := s.Status(ctx, ref); !errdefs.IsNotFound(err) {
		t.Errorf("Status of the redundant ingest: %v; want NotFound", err)
	}

	other, otherDesc := contenttest.Blob(81, 1000)
	partialIngest(t, s, "shared-ref", other, otherDesc, 500)
	if _, err := s.Writer(ctx, "shared-ref", desc); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("Writer: %v; want AlreadyExists", err)
	}
	if st, err := s.Status(ctx, "shared-ref"); err != nil || st.Offset != 500 {
		t.Errorf("Status of an ingest of another blob: %+v, %v; want it kept", st, err)
	}
}
