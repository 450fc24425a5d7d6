package main

import (
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleTrim: the heap is trimmed once after the API goes quiet, not
// while connections keep coming.
func TestIdleTrim(t *testing.T) {
	var trims atomic.Int32
	it := newIdleTrim(300*time.Millisecond, func() { trims.Add(1) })
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tl := it.listener(l)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for range 6 {
		c, err := net.Dial("unix", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if n := trims.Load(); n != 0 {
		t.Fatalf("trimmed %d times while connections kept coming", n)
	}
	time.Sleep(900 * time.Millisecond)
	if n := trims.Load(); n != 1 {
		t.Fatalf("trimmed %d times after the API went quiet, want 1", n)
	}
}
