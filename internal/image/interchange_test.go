package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"reflect"
	"sort"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/testenv"
	"github.com/klauspost/compress/zstd"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func rootfsTar(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		name string
		typ  byte
		body string
	}{{"etc/", tar.TypeDir, ""}, {"etc/hostname", tar.TypeReg, "imported\n"}, {"bin/", tar.TypeDir, ""}, {"bin/sh", tar.TypeSymlink, "busybox"}} {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o755, Size: int64(len(e.body))}
		if e.typ == tar.TypeSymlink {
			h.Linkname, h.Size = e.body, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestImportWithChanges(t *testing.T) {
	testenv.RequireRoot(t)
	ctx := context.Background()
	plain := rootfsTar(t)
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for name, data := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		t.Run(name, func(t *testing.T) {
			sn := newOverlay(t)
			s := newTestStore(t, sn)
			id, err := s.Import(ctx, bytes.NewReader(data), WithImportName("imported:"+name), WithChanges(
				`CMD ["sh", "-c", "echo hi"]`,
				`ENV A=1 B="two words"`,
				`ENV LEGACY value with spaces`,
				`EXPOSE 80 53/udp 8000-8001`,
				`LABEL a=b "c d"=e`,
				`USER nobody`,
				`WORKDIR /srv`,
				`WORKDIR app`,
				`VOLUME ["/data", "/logs"]`,
				`STOPSIGNAL SIGQUIT`,
				`ONBUILD run echo built`,
				`HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost`,
			))
			if err != nil {
				t.Fatal(err)
			}
			insp, err := s.Inspect(ctx, "imported:"+name)
			if err != nil {
				t.Fatal(err)
			}
			if insp.ID != id.String() || insp.Comment != "Imported from -" || insp.Os != "linux" || len(insp.RootFS.Layers) != 1 {
				t.Fatalf("inspect: %+v", insp)
			}
			c := insp.Config
			want := dockerspec.DockerOCIImageConfig{}
			want.Cmd = []string{"sh", "-c", "echo hi"}
			want.Env = []string{"A=1", "B=two words", "LEGACY=value with spaces"}
			want.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
			want.Labels = map[string]string{"a": "b", "c d": "e"}
			want.User = "nobody"
			want.WorkingDir = "/srv/app"
			want.Volumes = map[string]struct{}{"/data": {}, "/logs": {}}
			want.StopSignal = "SIGQUIT"
			want.OnBuild = []string{"RUN echo built"}
			want.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "wget -q localhost"}, Interval: 5e9, Retries: 2}
			if !reflect.DeepEqual(*c, want) {
				t.Fatalf("config:\n got %+v\nwant %+v", *c, want)
			}
			// The rootfs is unpacked and exports back as the same files.
			var out bytes.Buffer
			if err := s.ExportImage(ctx, &out, "imported:"+name); err != nil {
				t.Fatal(err)
			}
			if got, want := tarNames(t, out.Bytes()), tarNames(t, plain); !reflect.DeepEqual(got, want) {
				t.Fatalf("export: %v, want %v", got, want)
			}
			assertClean(t, s)
		})
	}
}

func tarNames(t testing.TB, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := h.Name
		if n == "./" || n == "." {
			continue
		}
		if len(n) > 2 && n[:2] == "./" {
			n = n[2:]
		}
		if h.Typeflag == tar.TypeDir && n[len(n)-1] != '/' {
			n += "/"
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestImportRejects(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	for name, c := range map[string]struct {
		data    []byte
		changes []string
	}{
		"not a tar":       {data: bytes.Repeat([]byte("x"), 2000)},
		"empty":           {data: nil},
		"bad change":      {data: rootfsTar(t), changes: []string{"RUN rm -rf /"}},
		"bad expose":      {data: rootfsTar(t), changes: []string{"EXPOSE 80/tcpx"}},
		"bad stopsignal":  {data: rootfsTar(t), changes: []string{"STOPSIGNAL SIGNOPE"}},
		"unmatched quote": {data: rootfsTar(t), changes: []string{`ENV A="b`}},
	} {
		if _, err := s.Import(ctx, bytes.NewReader(c.data), WithChanges(c.changes...)); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%s: %v, want InvalidParameter", name, err)
		}
	}
	assertClean(t, s)
	recs, _ := s.Records(ctx)
	if len(recs) != 0 {
		t.Fatalf("records after rejected imports: %v", recs)
	}
}
