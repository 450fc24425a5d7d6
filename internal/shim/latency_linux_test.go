package shim_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/shim"
)

// TestStartLatency times what `docker run --rm IMAGE true` costs below the
// daemon: shim.Start (shim launch and runtime create), Client.Start
// (runtime start), Wait and Delete (runtime delete, shim exit). It reports
// the median; it asserts nothing, as the machine is shared.
func TestStartLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("timing run: not in -short")
	}
	// As a daemon that is not a subreaper: the shim is cloned as a sibling
	// (one process start). The test's parallel tests are paused meanwhile.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			const n = 20
			c := newContainer(t, r, "true")
			c.writeSpec()
			base := c.cfg
			var total, create []time.Duration
			for i := range n {
				cfg := base
				cfg.ID = fmt.Sprintf("%s-%d", base.ID[:min(len(base.ID), 24)], i)
				cfg.StateDir = filepath.Join(t.TempDir(), "s")
				t0 := time.Now()
				cl, err := shim.Start(ctx(t), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t1 := time.Now()
				if _, err := cl.Start(ctx(t)); err != nil {
					t.Fatal(err)
				}
				if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
					t.Fatalf("wait: %+v %v", exit, err)
				}
				if err := cl.Delete(ctx(t)); err != nil {
					t.Fatal(err)
				}
				total = append(total, time.Since(t0))
				create = append(create, t1.Sub(t0))
				cl.Close()
			}
			t.Logf("%s: Start+Start+Wait+Delete of `true`: median %v (min %v), of which shim.Start (launch + create) median %v",
				r.name, median(total), minDur(total), median(create))
		})
	}
	// The same through a pool (Berth's runtime, warm), alternating with
	// plain starts so that both see the same machine.
	t.Run("pool", func(t *testing.T) {
		berth := runtimes(t)[0]
		c := newContainer(t, berth, "true")
		c.writeSpec()
		p, err := shim.NewPool(shim.PoolConfig{ShimBinary: c.cfg.ShimBinary, Runtime: berth.bin, RuntimeRoot: c.cfg.RuntimeRoot})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		const n = 20
		var pooled, plain []time.Duration
		for i := range 2 * n {
			cfg := c.cfg
			cfg.ID = fmt.Sprintf("%s-p%d", c.cfg.ID[:min(len(c.cfg.ID), 24)], i)
			cfg.StateDir = filepath.Join(t.TempDir(), "s")
			start := shim.Start
			if i%2 == 0 {
				waitForPooled(t, c.cfg.RuntimeRoot, 1)
				start = p.Start
			}
			t0 := time.Now()
			cl, err := start(ctx(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Start(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				p.Refill()
			}
			if exit, err := cl.Wait(ctx(t)); err != nil || exit.Code != 0 {
				t.Fatalf("wait: %+v %v", exit, err)
			}
			if err := cl.Delete(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				pooled = append(pooled, time.Since(t0))
			} else {
				plain = append(plain, time.Since(t0))
			}
			cl.Close()
		}
		t.Logf("Start+Start+Wait+Delete of `true`: pooled median %v (min %v), plain median %v (min %v)",
			median(pooled), minDur(pooled), median(plain), minDur(plain))
	})
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func minDur(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = min(m, x)
	}
	return m
}
