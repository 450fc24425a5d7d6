package server_test

import (
	"strings"
	"testing"
)

// TestHostileVolumeInput is TestHostileInput's table for the volume,
// archive (cp), changes, export and commit endpoints: every request gets
// a 4xx with a clear message (never a 500, never a panic), and the server
// keeps serving.
func TestHostileVolumeInput(t *testing.T) {
	t.Parallel()
	fake, h := newHandler(t)
	create(t, h, "web", `{"Image":"busybox","Cmd":["sleep"]}`)
	fake.AddVolume("data", nil, 0)

	longName := strings.Repeat("v", 256)
	longPath := "/" + strings.Repeat("a/", 2100)
	huge := `{"Name":"n","Labels":{"a":"` + strings.Repeat("A", 11<<20) + `"}}`
	hugeConfig := `{"Env":["` + strings.Repeat("A", 11<<20) + `"]}`
	climbing := string(tarOf(t, "../../../../etc/evil", "x"))
	notATar := strings.Repeat("this is not a tar archive\n", 40)
	cases := []struct {
		name, method, path, body, contentType string
		status                                int
		msg                                   string // a substring of the message
	}{
		// Volume bodies.
		{"create truncated", "POST", "/volumes/create", `{"Name":`, "", 400, "invalid JSON: unexpected EOF"},
		{"create two documents", "POST", "/volumes/create", `{"Name":"a"} {"Name":"b"}`, "", 400, "unexpected content after JSON"},
		{"create array", "POST", "/volumes/create", `[]`, "", 400, "invalid JSON"},
		{"create name number", "POST", "/volumes/create", `{"Name":5}`, "", 400, "cannot unmarshal number"},
		{"create labels array", "POST", "/volumes/create", `{"Name":"a","Labels":["x"]}`, "", 400, "cannot unmarshal array"},
		{"create opts number", "POST", "/volumes/create", `{"Name":"a","DriverOpts":{"size":5}}`, "", 400, "cannot unmarshal number"},
		{"create deep nesting", "POST", "/volumes/create", `{"Labels":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, "", 400, "invalid JSON"},
		{"create huge body", "POST", "/volumes/create", huge, "", 400, "request body too large"},
		{"create text body", "POST", "/volumes/create", `{"Name":"a"}`, "text/plain", 400, "unsupported Content-Type header"},
		{"create name NUL", "POST", "/volumes/create", `{"Name":"a\u0000b"}`, "", 400, "control characters are not allowed"},
		{"create name newline", "POST", "/volumes/create", `{"Name":"a\nb"}`, "", 400, "control characters are not allowed"},
		{"create name too long", "POST", "/volumes/create", `{"Name":"` + longName + `"}`, "", 400, "volume name is too long"},
		{"create option NUL", "POST", "/volumes/create", `{"Name":"a","DriverOpts":{"device":"/dev/x\u0000"}}`, "", 400, `invalid volume option "device"`},
		{"create option empty key", "POST", "/volumes/create", `{"Name":"a","DriverOpts":{"":"x"}}`, "", 400, `invalid volume option ""`},
		{"create unknown driver", "POST", "/volumes/create", `{"Name":"a","Driver":"nfs-plugin"}`, "", 404, "plugin \"nfs-plugin\" not found"},
		// Volume names in paths.
		{"inspect unknown", "GET", "/volumes/nothere", "", "", 404, "get nothere: no such volume"},
		{"remove unknown", "DELETE", "/volumes/nothere", "", "", 404, "get nothere: no such volume"},
		{"encoded dot-dot", "GET", "/volumes/..%2f..%2fetc", "", "", 404, "get ../../etc: no such volume"},
		{"raw dot-dot", "GET", "/volumes/../containers/json", "", "", 404, "page not found"},
		{"NUL in name", "DELETE", "/volumes/data%00", "", "", 404, "no such volume"},
		{"long name", "GET", "/volumes/" + longName, "", "", 404, "no such volume"},
		{"empty segment", "GET", "/volumes//data", "", "", 404, "page not found"},
		{"two segments", "GET", "/volumes/a/b", "", "", 404, "page not found"},
		// Volume filters.
		{"list filters not JSON", "GET", "/volumes?filters=name", "", "", 400, `invalid filters "name"`},
		{"list unknown filter", "GET", `/volumes?filters={"until":["1h"]}`, "", "", 400, "invalid filter 'until'"},
		{"list dangling junk", "GET", `/volumes?filters={"dangling":["maybe"]}`, "", "", 400, "invalid filter 'dangling=maybe'"},
		{"list dangling twice", "GET", `/volumes?filters={"dangling":["true","false"]}`, "", "", 400, "invalid filter 'dangling=false,true'"},
		{"prune unknown filter", "POST", `/volumes/prune?filters={"name":["x"]}`, "", "", 400, "invalid filter 'name'"},
		{"prune until", "POST", `/volumes/prune?filters={"until":["24h"]}`, "", "", 400, "invalid filter 'until'"},
		{"prune all junk", "POST", `/volumes/prune?filters={"all":["sure"]}`, "", "", 400, "invalid filter 'all'"},
		{"prune all twice", "POST", `/volumes/prune?filters={"all":["0","1"]}`, "", "", 400, "only one value is expected"},
		{"huge filters", "GET", "/volumes?filters=" + `{"name":["` + strings.Repeat("x", 1<<20) + `"],"bogus":["y"]}`, "", "", 400, "invalid filter 'bogus'"},
		// Archive paths.
		{"stat no path", "HEAD", "/containers/web/archive", "", "", 400, ""},
		{"get no path", "GET", "/containers/web/archive", "", "", 400, "bad parameter: path cannot be empty"},
		{"get empty path", "GET", "/containers/web/archive?path=", "", "", 400, "bad parameter: path cannot be empty"},
		{"put no path", "PUT", "/containers/web/archive", climbing, "application/x-tar", 400, "bad parameter: path cannot be empty"},
		{"get NUL in path", "GET", "/containers/web/archive?path=/etc/passwd%00.png", "", "", 400, "holds a NUL byte"},
		{"get path too long", "GET", "/containers/web/archive?path=" + longPath, "", "", 400, "the limit is 4096"},
		{"get missing file", "GET", "/containers/web/archive?path=/no/such/file", "", "", 404, "Could not find the file /no/such/file in container web"},
		{"get climbing missing", "GET", "/containers/web/archive?path=..%2f..%2f..%2fetc%2fshadow", "", "", 404, "Could not find the file ../../../etc/shadow in container web"},
		{"get file as dir", "GET", "/containers/web/archive?path=/etc/passwd/", "", "", 400, "not a directory"},
		{"get unknown container", "GET", "/containers/nothere/archive?path=/", "", "", 404, "No such container: nothere"},
		{"get container dot-dot", "GET", "/containers/..%2f..%2fetc/archive?path=/", "", "", 404, "No such container: ../../etc"},
		{"put unknown container", "PUT", "/containers/nothere/archive?path=/", climbing, "application/x-tar", 404, "No such container: nothere"},
		// Archive bodies.
		{"put climbing entry", "PUT", "/containers/web/archive?path=/tmp", climbing, "application/x-tar", 400, "outside of the extraction point"},
		{"put not a tar", "PUT", "/containers/web/archive?path=/tmp", notATar, "application/x-tar", 400, "reading archive"},
		{"put truncated gzip", "PUT", "/containers/web/archive?path=/tmp", "\x1f\x8b\x08\x00", "application/x-tar", 400, "reading archive"},
		{"put into a file", "PUT", "/containers/web/archive?path=/etc/passwd", string(tarOf(t, "x", "y")), "application/x-tar", 400, "extraction point is not a directory"},
		{"put dir over file", "PUT", "/containers/web/archive?path=/etc&noOverwriteDirNonDir=1", string(tarOf(t, "passwd/", "")), "application/x-tar", 409, "cannot overwrite non-directory"},
		// Changes and export.
		{"changes unknown", "GET", "/containers/nothere/changes", "", "", 404, "No such container: nothere"},
		{"export unknown", "GET", "/containers/nothere/export", "", "", 404, "No such container: nothere"},
		{"export dot-dot", "GET", "/containers/..%2f../export", "", "", 404, "No such container: ../.."},
		// Commit.
		{"commit no container", "POST", "/commit", "", "", 400, "No container name or ID supplied"},
		{"commit unknown", "POST", "/commit?container=nothere", "", "", 404, "No such container: nothere"},
		{"commit container NUL", "POST", "/commit?container=web%00", "", "", 404, "No such container"},
		{"commit bad repo", "POST", "/commit?container=web&repo=a%20b", "", "", 400, "invalid reference format"},
		{"commit upper-case repo", "POST", "/commit?container=web&repo=App", "", "", 400, "invalid reference format"},
		{"commit digest repo", "POST", "/commit?container=web&repo=app@sha256:" + strings.Repeat("a", 64), "", "", 400, "cannot import digest reference"},
		{"commit bad tag", "POST", "/commit?container=web&repo=app&tag=-x", "", "", 400, "invalid tag"},
		{"commit truncated body", "POST", "/commit?container=web", `{"Cmd":`, "", 400, "invalid JSON"},
		{"commit body wrong type", "POST", "/commit?container=web", `{"Cmd":5}`, "", 400, "cannot unmarshal number"},
		{"commit body array", "POST", "/commit?container=web", `[]`, "", 400, "invalid JSON"},
		{"commit huge body", "POST", "/commit?container=web", hugeConfig, "", 400, "request body too large"},
		{"commit text body", "POST", "/commit?container=web", `{}`, "text/plain", 400, "unsupported Content-Type header"},
		{"commit on GET", "GET", "/commit?container=web", "", "", 404, "page not found"},
	}
	for _, c := range cases {
		req, err := rawRequest(c.method, c.path, c.body, c.contentType)
		if err != nil {
			t.Logf("%s: refused by net/http before the API: %v", c.name, err)
			continue
		}
		rec := recorder(h, req)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, rec.Code, c.status, trim(rec.Body.String()))
			continue
		}
		if c.msg != "" {
			if got := errorMessage(t, rec); !strings.Contains(got, c.msg) {
				t.Errorf("%s: message %q, want it to contain %q", c.name, trim(got), c.msg)
			}
		}
		if rec := do(t, h, "GET", "/_ping", nil); rec.Code != 200 {
			t.Fatalf("after %s the server no longer answers: %d", c.name, rec.Code)
		}
	}
	// Nothing of the above made a volume, an image or a file.
	if rec := do(t, h, "GET", "/volumes", nil); strings.Count(rec.Body.String(), `"Name"`) != 1 {
		t.Errorf("volumes after the hostile requests: %s", trim(rec.Body.String()))
	}
	if rec := do(t, h, "GET", "/containers/web/changes", nil); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("changes after the hostile requests: %s", trim(rec.Body.String()))
	}
	if rec := do(t, h, "GET", "/images/json", nil); strings.Count(rec.Body.String(), `"Id"`) != 1 {
		t.Errorf("images after the hostile requests: %s", trim(rec.Body.String()))
	}
}
