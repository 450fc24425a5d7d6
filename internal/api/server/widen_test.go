package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/api/server"
)

// TestCPUWidening: CPU-bound endpoints run with the scheduler widened, and
// release it when they end, failed or not; others never widen it.
func TestCPUWidening(t *testing.T) {
	held, widened := 0, 0
	widen := func() func() {
		held++
		widened++
		return func() { held-- }
	}
	_, h := newHandler(t, server.WithCPUWidening(widen))
	for _, c := range []struct {
		method, target string
		wide           bool
	}{
		{"GET", "/_ping", false},
		{"GET", "/containers/json", false},
		{"POST", "/containers/create", false},
		{"POST", "/images/create?fromImage=busybox&tag=latest", true},
		{"POST", "/images/load", true},
		{"GET", "/images/get?names=busybox", true},
		{"GET", "/images/busybox/get", true},
		{"POST", "/images/busybox/push", true},
		{"POST", "/commit?container=nosuch", true},
		{"GET", "/containers/nosuch/export", true},
		{"GET", "/containers/nosuch/archive?path=/", true},
		{"PUT", "/containers/nosuch/archive?path=/", true},
	} {
		widened = 0
		rec := do(t, h, c.method, "/v1.47"+c.target, strings.NewReader("{}"))
		if (widened == 1) != c.wide || widened > 1 {
			t.Errorf("%s %s (status %d): widened %d times, want wide=%v", c.method, c.target, rec.Code, widened, c.wide)
		}
		if held != 0 {
			t.Errorf("%s %s: %d widenings still held after the response", c.method, c.target, held)
			held = 0
		}
	}
	if rec := do(t, h, "GET", "/_ping", nil); rec.Code != http.StatusOK {
		t.Errorf("ping after the endpoints: %d", rec.Code)
	}
}
