package shim

import (
	"bytes"
	"testing"

	"github.com/berth-project/berth/internal/runtime"
)

// TestDirectStartContract keeps the shim's copy of berth-runtime's start
// handshake and direct delete equal to the runtime's (the shim binary does not link the
// runtime; its test may).
func TestDirectStartContract(t *testing.T) {
	if directStartFile != runtime.DirectStartFile || startSocket != runtime.StartSocket || runtimeLock != runtime.LockFile ||
		directDeleteFile != runtime.DirectDeleteFile {
		t.Errorf("names: shim %q %q %q %q, runtime %q %q %q %q", directStartFile, startSocket, runtimeLock, directDeleteFile,
			runtime.DirectStartFile, runtime.StartSocket, runtime.LockFile, runtime.DirectDeleteFile)
	}
	if !bytes.Equal(startFrame, runtime.StartFrame) {
		t.Errorf("start frame: shim %q, runtime %q", startFrame, runtime.StartFrame)
	}
}

func TestAwaitStarted(t *testing.T) {
	frame := func(body string) []byte { return append([]byte{byte(len(body)), 0, 0, 0}, body...) }
	errFrame := frame(`{"type":"error","error":"exec: no such file"}`)
	cases := []struct {
		name  string
		reply []byte
		want  string
	}{
		{"eof", nil, ""},
		{"error", errFrame, "runtime start: exec: no such file"},
		{"other", frame(`{"type":"seccomp-fd"}`), `runtime start: unexpected "seccomp-fd" from the container's init`},
		{"cut", errFrame[:10], "runtime start: unexpected EOF"},
	}
	for _, c := range cases {
		err := awaitStarted(bytes.NewReader(c.reply))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
