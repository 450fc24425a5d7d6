package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
)

const pull = `{"status":"Pulling from library/busybox","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}
{"status":"Downloading","progressDetail":{"current":1000,"total":4000},"progress":"[==>   ]","id":"aaa"}
{"status":"Download complete","progressDetail":{},"id":"aaa"}
{"status":"Pull complete","progressDetail":{},"id":"bbb"}
{"status":"Digest: sha256:abc"}
{"status":"Status: Downloaded newer image for busybox:latest"}
`

func TestPlain(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := Display(strings.NewReader(pull), &out, Options{}); err != nil {
		t.Fatal(err)
	}
	want := "latest: Pulling from library/busybox\n" +
		"aaa: Pulling fs layer\n" +
		"bbb: Pulling fs layer\n" +
		"aaa: Download complete\n" +
		"bbb: Pull complete\n" +
		"Digest: sha256:abc\n" +
		"Status: Downloaded newer image for busybox:latest\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

func TestTerminalRedrawsLinesInPlace(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	now := func() time.Time { return time.Unix(100, 0) }
	if err := Display(strings.NewReader(pull), &out, Options{Terminal: true, Width: 80, Now: now}); err != nil {
		t.Fatal(err)
	}
	want := "latest: Pulling from library/busybox\n" +
		// aaa gets line 0: a new line, up 1, clear, draw, down 1.
		"\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B" +
		// bbb gets line 1.
		"\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B" +
		// aaa is redrawn two lines up.
		"\x1b[2A\x1b[2K\raaa: Downloading      1kB/4kB\r\x1b[2B" +
		"\x1b[2A\x1b[2K\raaa: Download complete \r\x1b[2B" +
		"\x1b[1A\x1b[2K\rbbb: Pull complete \r\x1b[1B" +
		"Digest: sha256:abc\n" +
		"Status: Downloaded newer image for busybox:latest\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

func TestErrorsAndAux(t *testing.T) {
	t.Parallel()
	var aux []string
	stream := `{"status":"The push refers to repository [localhost:5000/x]"}
{"aux":{"Tag":"latest","Digest":"sha256:1","Size":525}}
{"errorDetail":{"message":"unauthorized: authentication required"},"error":"unauthorized: authentication required"}
{"status":"never shown"}
`
	var out bytes.Buffer
	err := Display(strings.NewReader(stream), &out, Options{Aux: func(m json.RawMessage) { aux = append(aux, string(m)) }})
	var perr *Error
	if !errors.As(err, &perr) || perr.Message != "unauthorized: authentication required" {
		t.Fatalf("error %v", err)
	}
	if out.String() != "The push refers to repository [localhost:5000/x]\n" {
		t.Errorf("out %q", out.String())
	}
	if len(aux) != 1 || !strings.Contains(aux[0], `"Digest":"sha256:1"`) {
		t.Errorf("aux %v", aux)
	}
	if err := Display(strings.NewReader(`{"error":"legacy failure"}`), &out, Options{}); err == nil || err.Error() != "legacy failure" {
		t.Errorf("legacy error: %v", err)
	}
	out.Reset()
	if err := Display(strings.NewReader(`{"stream":"Loaded image: busybox:latest\n"}`), &out, Options{}); err != nil || out.String() != "Loaded image: busybox:latest\n" {
		t.Errorf("stream: %q %v", out.String(), err)
	}
}

func TestBar(t *testing.T) {
	t.Parallel()
	now := time.Unix(110, 0)
	p := jsonstream.Progress{Current: 2_000_000, Total: 4_000_000, Start: 100}
	got := Bar(p, 120, now)
	want := "[=========================>                         ]      2MB/4MB 10s"
	if got != want {
		t.Errorf("Bar = %q, want %q", got, want)
	}
	if got := Bar(jsonstream.Progress{Current: 3, Total: 10, Units: "items"}, 40, now); got != "3/10 items" {
		t.Errorf("units: %q", got)
	}
	if got := Bar(jsonstream.Progress{Current: 1500}, 40, now); got != "   1.5kB" {
		t.Errorf("no total: %q", got)
	}
}
