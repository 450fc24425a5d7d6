package cli

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// localTree lists the files under dir as "path:content" ("path/" for a
// directory, "path@target" for a symlink), sorted.
func localTree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+"@"+target)
		case fi.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+":"+string(b)+":"+fi.Mode().Perm().String())
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

// tarNames lists a tar stream's entries.
func tarNames(t *testing.T, b []byte) string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "bad tar: " + err.Error()
		}
		c, _ := io.ReadAll(tr)
		out = append(out, h.Name+":"+string(c))
	}
	return strings.Join(out, " ")
}

// sameTime is the modification time of TestCopyMatchesDocker's local files.
var sameTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// TestCopyMatchesDocker runs docker cp and berth cp against the same
// engine, each side on its own container and local directory, and
// compares outputs, exit codes and what the copies made.
func TestCopyMatchesDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	e := newEngine(t)
	s := sideRunner{t, e}
	top := t.TempDir()
	for _, p := range []string{"d", "b"} {
		if r := e.docker("", "create", "--name", p+"-box", "busybox"); r.code != 0 {
			t.Fatalf("create: %+v", r)
		}
		local := filepath.Join(top, p)
		for name, content := range map[string]string{"file": "F", "tree/a": "A", "tree/sub/b": "B", "out/keep": "K"} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(local, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(local, name), []byte(content), 0o640); err != nil {
				t.Fatal(err)
			}
			// Both sides' files carry one time: the tars they make are
			// compared byte for byte.
			if err := os.Chtimes(filepath.Join(local, name), sameTime, sameTime); err != nil {
				t.Fatal(err)
			}
		}
		for _, dir := range []string{"tree/sub", "tree", "out", "."} {
			if err := os.Chtimes(filepath.Join(local, dir), sameTime, sameTime); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("file", filepath.Join(local, "link")); err != nil {
			t.Fatal(err)
		}
	}
	// "%" in an argument is the side's local directory.
	loc := func(args []string, p string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			out[i] = strings.ReplaceAll(a, "%", filepath.Join(top, p))
		}
		return out
	}
	cp := func(stdin string, args ...string) (result, result) {
		t.Helper()
		d := e.docker(stdin, s.args("d", loc(args, "d"))...)
		b := e.berth(stdin, s.args("b", loc(args, "b"))...)
		// docker logs its tar goroutine's failure once the copy has been
		// refused ("Can't add file ... to tar: io: read/write on closed
		// pipe"): noise, not part of what it says.
		var kept []string
		for _, l := range strings.SplitAfter(d.err, "\n") {
			if !strings.Contains(l, `level=error msg="Can't`) {
				kept = append(kept, l)
			}
		}
		d.err = strings.Join(kept, "")
		dn := strings.ReplaceAll(s.norm(d.err, "d"), filepath.Join(top, "d"), "%")
		bn := strings.ReplaceAll(s.norm(b.err, "b"), filepath.Join(top, "b"), "%")
		if s.norm(d.out, "d") != s.norm(b.out, "b") || d.code != b.code || dn != bn {
			t.Errorf("%v:\ndocker exit %d out %q err %q\nberth  exit %d out %q err %q", args, d.code, d.out, d.err, b.code, b.out, b.err)
		}
		return d, b
	}
	inside := func(p string) string {
		t.Helper()
		d, _, _ := e.fake.ContainerArchivePath(t.Context(), "d-box", p)
		b, _, _ := e.fake.ContainerArchivePath(t.Context(), "b-box", p)
		if d == nil || b == nil {
			if (d == nil) != (b == nil) {
				t.Errorf("%s: in docker's box %v, in berth's %v", p, d != nil, b != nil)
			}
			return ""
		}
		db, _ := io.ReadAll(d)
		bb, _ := io.ReadAll(b)
		if dn, bn := tarNames(t, db), tarNames(t, bb); dn != bn {
			t.Errorf("%s in the container: docker made %s, berth %s", p, dn, bn)
		}
		return tarNames(t, bb)
	}
	outside := func() {
		t.Helper()
		if d, b := localTree(t, filepath.Join(top, "d")), localTree(t, filepath.Join(top, "b")); d != b {
			t.Errorf("local trees differ:\ndocker %s\nberth  %s", d, b)
		}
	}

	// Into the container, docker's table.
	cp("", "cp", "%/file", "@-box:/tmp")                // file into dir
	cp("", "cp", "%/file", "@-box:/tmp/renamed")        // file to a new name
	cp("", "cp", "%/file", "@-box:/tmp/renamed")        // file over file
	cp("", "cp", "%/tree", "@-box:/tmp/newtree")        // dir to a new name
	cp("", "cp", "%/tree", "@-box:/tmp")                // dir into dir
	cp("", "cp", "%/tree/.", "@-box:/root")             // contents into dir
	cp("", "cp", "%/tree/", "@-box:/tmp/renamed")       // dir over file
	cp("", "cp", "%/file", "@-box:/tmp/nodir/")         // missing dir asserted
	cp("", "cp", "%/link", "@-box:/tmp")                // the link itself
	cp("", "cp", "-L", "%/link", "@-box:/tmp/followed") // followed
	cp("", "cp", "%/file", "@-box:/etc/motd")           // dst symlink is followed
	cp("", "cp", "%/nonexistent", "@-box:/tmp")         // no source
	cp("", "cp", "%/file", "nosuch:/tmp")               // no container
	cp("", "cp", "-a", "%/file", "@-box:/tmp/archived") // -a
	cp("", "cp", "-q", "%/file", "@-box:/tmp/quiet")    // -q
	cp("", "cp", "%/file", "@-box:/nothere/sub/x")      // missing parent
	cp("", "cp", "-", "@-box:/etc/passwd")              // stdin needs a dir
	cp(string(tarOfFiles(t, "fromstdin", "S")), "cp", "-", "@-box:/tmp")
	inside("/tmp")
	inside("/root")
	inside("/etc/passwd")

	// Out of the container.
	cp("", "cp", "@-box:/tmp/renamed", "%/out")          // file into dir
	cp("", "cp", "@-box:/tmp/renamed", "%/out/copy")     // to a new name
	cp("", "cp", "@-box:/tmp/newtree", "%/out/tree2")    // dir to a new name
	cp("", "cp", "@-box:/tmp/newtree/.", "%/out")        // contents into dir
	cp("", "cp", "@-box:/etc/motd", "%/out")             // link as link
	cp("", "cp", "-L", "@-box:/etc/motd", "%/out/motd2") // followed
	cp("", "cp", "-L", "@-box:/etc/motd", "%/out/")      // followed, into dir: keeps the link's name
	cp("", "cp", "@-box:/tmp/newtree", "%/out/keep")     // dir over file
	cp("", "cp", "@-box:/etc/passwd", "%/out/none/")     // missing dir asserted
	cp("", "cp", "@-box:/etc/passwd", "%/nodir/x")       // missing parent
	cp("", "cp", "@-box:/nothere", "%/out")              // no source
	cp("", "cp", "@-box:/etc/passwd", "-")               // tar to stdout
	cp("", "cp", "@-box:/etc/passwd", "@-box:/tmp")      // both containers
	cp("", "cp", "%/file", "%/file2")                    // neither
	cp("", "cp", "", "%/x")                              // empty source
	cp("", "cp", "%/x", "")                              // empty destination
	cp("", "cp", "only-one")                             // arguments
	cp("", "container", "cp", "@-box:/etc/passwd", "%/out/viagroup")
	outside()
}

func tarOfFiles(t *testing.T, nameContent ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(nameContent); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: nameContent[i], Mode: 0o644, Size: int64(len(nameContent[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(nameContent[i+1]))
	}
	tw.Close()
	return buf.Bytes()
}

// TestDiffCommitExportMatchDocker: the other filesystem commands, on the
// same engine.
func TestDiffCommitExportMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	e := newEngine(t)
	s := sideRunner{t, e}
	top := t.TempDir()
	for _, p := range []string{"d", "b"} {
		if r := e.docker("", "create", "--name", p+"-box", "busybox"); r.code != 0 {
			t.Fatalf("create: %+v", r)
		}
		if err := e.fake.WriteFile(p+"-box", "/etc/new.conf", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := e.fake.RemoveFile(p+"-box", "/bin/sh"); err != nil {
			t.Fatal(err)
		}
	}
	s.pair("", "diff", "@-box")
	s.pair("", "container", "diff", "@-box")
	s.pair("", "diff", "nosuch")
	s.pairCode("", "diff")

	s.pair("", "commit", "@-box")
	s.pair("", "commit", "-a", "me", "-m", "msg", "-c", "CMD sh", "-c", "ENV A=1", "-p=false", "@-box", "@-app:v1")
	s.pair("", "commit", "@-box", "@-app")
	s.pair("", "commit", "@-box", "Bad:Ref")
	s.pair("", "commit", "@-box", "app@sha256:"+strings.Repeat("a", 64))
	s.pair("", "commit", "nosuch", "x")
	s.pair("", "container", "commit", "--pause=false", "@-box")
	s.pairCode("", "commit")
	s.pair("", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=@-app:v1")
	s.pair("", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=@-app:latest")

	d, b := e.docker("", "export", "d-box"), e.berth("", "export", "b-box")
	if dn, bn := tarNames(t, []byte(d.out)), tarNames(t, []byte(b.out)); d.code != 0 || b.code != 0 || dn != bn || !strings.Contains(bn, "etc/new.conf:x") {
		t.Errorf("export to stdout: docker %d %s %q, berth %d %s %q", d.code, dn, d.err, b.code, bn, b.err)
	}
	s.pair("", "container", "export", "nosuch")
	s.pair("", "export", "-o", filepath.Join(top, "none", "x.tar"), "@-box")
	s.pair("", "export", "-o", top, "@-box")
	s.pair("", "export", "-o", "/dev/null", "@-box")
	for _, p := range []string{"d", "b"} {
		out := filepath.Join(top, p+".tar")
		var r result
		if p == "d" {
			r = e.docker("", "export", "-o", out, p+"-box")
		} else {
			r = e.berth("", "export", "--output", out, p+"-box")
		}
		b, err := os.ReadFile(out)
		if r.code != 0 || err != nil || !strings.Contains(tarNames(t, b), "etc/new.conf:x") {
			t.Errorf("%s export -o: %+v %v %s", p, r, err, tarNames(t, b))
		}
	}
}

// fsDaemon answers the archive, commit, changes and export endpoints for
// one container whose /tmp is a directory and /etc/passwd a file.
func fsDaemon(t *testing.T) *fakeDaemon {
	d := newFakeDaemon(t)
	stat := func(p string) (string, bool) {
		var st string
		switch strings.TrimSuffix(p, "/") {
		case "/tmp":
			st = `{"name":"tmp","size":4096,"mode":2147484159,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}`
		case "/etc/passwd":
			st = `{"name":"passwd","size":30,"mode":420,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}`
		default:
			return "", false
		}
		return base64.StdEncoding.EncodeToString([]byte(st)), true
	}
	d.handle("HEAD /containers/{id}/archive", func(w http.ResponseWriter, r *http.Request) {
		st, ok := stat(r.URL.Query().Get("path"))
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Docker-Container-Path-Stat", st)
	})
	d.handle("GET /containers/{id}/archive", func(w http.ResponseWriter, r *http.Request) {
		st, ok := stat(r.URL.Query().Get("path"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Could not find the file"})
			return
		}
		w.Header().Set("X-Docker-Container-Path-Stat", st)
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(tarOfFiles(t, "passwd", "root:x:0:0:root:/root:/bin/sh\n"))
	})
	d.handle("PUT /containers/{id}/archive", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	d.json("POST /commit", http.StatusCreated, map[string]string{"Id": "sha256:" + strings.Repeat("a", 64)})
	d.json("GET /containers/{id}/changes", http.StatusOK, []map[string]any{{"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/x", "Kind": 1}, {"Path": "/bin/sh", "Kind": 2}})
	d.handle("GET /containers/{id}/export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(tarOfFiles(t, "etc/passwd", "x"))
	})
	return d
}

// requestLine is a request as the daemon reads it: empty query
// parameters dropped (docker 28's client sends author= and the like, the
// SDK berth uses leaves them out; dockerd reads both alike).
func requestLine(r recorded) string {
	q, _ := url.ParseQuery(r.Query)
	for k, v := range q {
		if len(v) == 1 && v[0] == "" {
			delete(q, k)
		}
	}
	body := strings.TrimSpace(string(r.Body))
	if body == "null" || r.Method == "PUT" {
		body = ""
	}
	return r.Method + " " + r.Path + "?" + q.Encode() + " " + body
}

// TestFSRequestsMatchDocker compares the requests docker 28 and berth
// send for cp, commit, diff and export.
func TestFSRequestsMatchDocker(t *testing.T) {
	requireDockerCLI(t)
	t.Parallel()
	local := t.TempDir()
	if err := os.WriteFile(filepath.Join(local, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"cp", filepath.Join(local, "f"), "box:/tmp"},
		{"cp", "-a", filepath.Join(local, "f"), "box:/tmp/new"},
		{"cp", "-L", filepath.Join(local, "f"), "box:/tmp/"},
		{"cp", "box:/etc/passwd", filepath.Join(local, "out1")},
		{"cp", "-L", "box:/etc/passwd", filepath.Join(local, "out2")},
		{"cp", "-a", "box:/etc/passwd", "-"},
		{"commit", "box"},
		{"commit", "-a", "me", "-m", "msg", "-c", "CMD sh", "-c", "ENV A=1", "-p=false", "box", "app:v1"},
		{"commit", "--change", "EXPOSE 80", "box", "localhost:5000/a/b"},
		{"diff", "box"},
		{"export", "box"},
	} {
		dd, bd := fsDaemon(t), fsDaemon(t)
		dout, derr, dcode := runDocker(t, dd, args...)
		b := bd.berth(args...)
		if dcode != b.code || dout != b.out {
			t.Errorf("%v: docker exit %d out %q err %q, berth exit %d out %q err %q", args, dcode, dout, derr, b.code, b.out, b.err)
		}
		lines := func(d *fakeDaemon) []string {
			var out []string
			for _, r := range d.sent("") {
				if r.Path != "/_ping" {
					out = append(out, requestLine(r))
				}
			}
			return out
		}
		dl, bl := lines(dd), lines(bd)
		if len(dl) == 0 || strings.Join(dl, "\n") != strings.Join(bl, "\n") {
			t.Errorf("%v: requests\ndocker %q\nberth  %q", args, dl, bl)
		}
	}
}
