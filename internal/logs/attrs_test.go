package logs

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestExtraAttrs(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"foo": "bar", "app.tier": "web", "other": "1"}
	env := []string{"E1=v", "XA=1", "XB=a b&c", "NOVALUE"}
	cases := []struct {
		opts map[string]string
		want map[string]string
	}{
		{nil, nil},
		{map[string]string{"max-size": "1m"}, nil},
		{map[string]string{"labels": "foo,missing"}, map[string]string{"foo": "bar"}},
		{map[string]string{"labels-regex": `^app\.`}, map[string]string{"app.tier": "web"}},
		{map[string]string{"env": "E1,NOVALUE"}, map[string]string{"E1": "v"}},
		{map[string]string{"env-regex": "^X", "labels": "other"},
			map[string]string{"XA": "1", "XB": "a b&c", "other": "1"}},
	}
	for _, c := range cases {
		got, err := ExtraAttrs(c.opts, labels, env)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.opts, got, c.want)
		}
	}
	if _, err := ExtraAttrs(map[string]string{"env-regex": "["}, labels, env); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad regexp: %v", err)
	}
}

// The attrs are written as docker's json-file writes them (between stream
// and time, keys sorted) and read back for logs --details.
func TestJSONFileAttrs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := NewWriterAttrs(JSONFile, path, nil, map[string]string{"foo": "bar", "E1": "a&b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(Message{Stream: "stdout", Line: []byte("a\n"), Time: t0}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"log":"a\n","stream":"stdout","attrs":{"E1":"a\u0026b","foo":"bar"},"time":"2026-01-02T03:04:05.12Z"}` + "\n"
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	msgs, errs := Read(context.Background(), JSONFile, path, ReadOptions{Tail: -1})
	var got []Message
	for m := range msgs {
		got = append(got, m)
	}
	for err := range errs {
		t.Fatal(err)
	}
	if len(got) != 1 || !maps.Equal(got[0].Attrs, map[string]string{"foo": "bar", "E1": "a&b"}) {
		t.Errorf("read back %+v", got)
	}
}
