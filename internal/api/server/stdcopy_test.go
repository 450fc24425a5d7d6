package server

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
)

// Frames written from two goroutines stay whole, big writes are split,
// and the official demultiplexer reads them back.
func TestMuxWriterFraming(t *testing.T) {
	var buf bytes.Buffer
	m := &muxWriter{w: &buf}
	stdout, stderr := m.stream(streamStdout), m.stream(streamStderr)
	big := strings.Repeat("x", 3*maxFramePayload+5)
	var wg sync.WaitGroup
	for _, w := range []struct {
		out  interface{ Write([]byte) (int, error) }
		line string
	}{{stdout, "out\n"}, {stderr, "err\n"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if n, err := w.out.Write([]byte(w.line)); err != nil || n != len(w.line) {
					t.Errorf("write: %d %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	if n, err := stdout.Write([]byte(big)); err != nil || n != len(big) {
		t.Fatalf("big write: %d %v", n, err)
	}
	if n, _ := stdout.Write(nil); n != 0 {
		t.Fatal("empty write")
	}
	var gotOut, gotErr bytes.Buffer
	if _, err := stdcopy.StdCopy(&gotOut, &gotErr, &buf); err != nil {
		t.Fatal(err)
	}
	if gotOut.String() != strings.Repeat("out\n", 500)+big || gotErr.String() != strings.Repeat("err\n", 500) {
		t.Errorf("demuxed %d/%d bytes", gotOut.Len(), gotErr.Len())
	}
}
