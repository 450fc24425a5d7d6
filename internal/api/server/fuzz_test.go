package server

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// createSeeds are real request bodies: what the docker CLI 28.2 and 20.10
// send for `docker run`, captured from them (testdata), and a few edges.
func createSeeds(f *testing.F) [][]byte {
	files, err := filepath.Glob("testdata/create-*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed bodies in testdata: %v", err)
	}
	var seeds [][]byte
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds,
		[]byte(`{"Image":"busybox"}`),
		[]byte(`{"Image":"busybox","HostConfig":{"NetworkMode":"container:x","PidsLimit":-1,"Mounts":[{"Type":"bind","BindOptions":{"NonRecursive":true}}]}}`),
		[]byte(`{"Image":"busybox","Healthcheck":{"Test":["CMD","true"]},"NetworkingConfig":{"EndpointsConfig":{"a":null,"b":{}}}}`),
		[]byte(`{"Image":"b","HostConfig":{"Mounts":[{"Type":"volume","VolumeOptions":{"Subpath":"x"},"TmpfsOptions":{}}]}}`),
		[]byte(`null`), []byte(`{}`), []byte(`[`), []byte(``),
	)
}

// FuzzDecodeCreate feeds create requests of any shape to the decoder: it
// must never panic, every error must be the client's (InvalidParameter,
// a 400), and a success must hand the backend complete structures.
func FuzzDecodeCreate(f *testing.F) {
	for _, body := range createSeeds(f) {
		for _, v := range []string{"1.24", "1.41", "1.50"} {
			f.Add(v, "name=web", body)
		}
	}
	f.Add("1.43", "name=a&platform=linux/arm64/v8", []byte(`{"Image":"x","HostConfig":{"Annotations":{"a":"b"}}}`))
	f.Fuzz(func(t *testing.T, version, query string, body []byte) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := decodeCreate(bytes.NewReader(body), createInput{version: version, query: q, cgroupUnified: len(body)%2 == 0, limit: 1 << 20})
		if err != nil {
			if statusFor(err) != http.StatusBadRequest {
				t.Fatalf("error %v maps to %d, not 400", err, statusFor(err))
			}
			return
		}
		if req.Config == nil || req.Host == nil || req.Networking == nil || req.Host.PortBindings == nil || req.Config.Volumes == nil {
			t.Fatalf("incomplete request %+v", req)
		}
		if p := req.Host.PidsLimit; p != nil && *p <= 0 {
			t.Fatalf("PidsLimit %d passed through", *p)
		}
		if req.Name != "" && validateContainerName(req.Name) != nil {
			t.Fatalf("invalid name %q accepted", req.Name)
		}
	})
}

// FuzzQueryDecoding feeds the query and path decoders (filters, times,
// signals, flags, numbers, path splitting and routing): no panic, and
// every error a 4xx.
func FuzzQueryDecoding(f *testing.F) {
	seeds := []string{
		`{"label":{"a=b":true},"status":{"running":true}}`, `{"label":["a=b"]}`, `{"a":1}`, `[1]`, `null`, ``,
		`1700000000.123456789`, `-1.5`, `1.`, `SIGKILL`, `rtmin+3`, `RTMAX-14`, `9`, `65`, `sig`,
		`/v1.41/containers/web/json`, `/containers/..%2f../json`, `/images/localhost:5000/a/b:c/json`, `//x`, `/v1.x/_ping`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	srv := New(nil)
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, err error) {
			if err != nil && statusFor(err) >= 500 {
				t.Fatalf("%s(%q): %v maps to %d", what, s, err, statusFor(err))
			}
		}
		f, err := decodeFilters(s)
		check("decodeFilters", err)
		if err == nil && f == nil {
			t.Fatalf("decodeFilters(%q): nil filters without error", s)
		}
		_, err = ParseSignal(s)
		check("ParseSignal", err)
		r := &request{query: url.Values{"v": {s}, "t": {s}, "tail": {s}, "h": {s}}, version: "1.50"}
		_ = r.boolValue("v")
		_, err = r.timestampValue("v")
		check("timestampValue", err)
		_, err = r.timeoutValue()
		check("timeoutValue", err)
		_ = r.tailValue()
		_, err = r.uint32Value("h", "height")
		check("uint32Value", err)
		check("validatePlatform", validatePlatform(s))
		_, err = platformString(s)
		check("platformString", err)
		_, err = decodeAuth(s)
		check("decodeAuth", err)
		check("checkContainerRef", checkContainerRef(s))
		check("checkExecRef", checkExecRef(s))
		_ = compareVersions(s, "1.41")
		if segs, ok := splitPath(s); ok {
			for _, seg := range segs {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("splitPath(%q) kept segment %q", s, seg)
				}
			}
			if len(segs) > 0 && isVersionSegment(segs[0]) {
				segs = segs[1:]
			}
			for _, m := range []string{"GET", "POST", "DELETE", "HEAD"} {
				if rt, vars := srv.router.match(m, segs); rt != nil {
					for _, v := range vars {
						if v == "" {
							t.Fatalf("route %s %s matched with an empty parameter for %q", m, rt.pattern, s)
						}
					}
				}
			}
		}
	})
}
