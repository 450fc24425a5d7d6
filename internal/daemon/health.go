package daemon

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/api/server"
	"github.com/berth-project/berth/internal/container"
)

// Docker's health check defaults and limits.
const (
	healthDefaultInterval      = 30 * time.Second
	healthDefaultTimeout       = 30 * time.Second
	healthDefaultStartInterval = 5 * time.Second
	healthDefaultRetries       = 3
	healthMaxLogEntries        = 5
	healthMaxOutput            = 4096
)

// restartOnUnhealthyLabel, set to "true" on a container, makes Berth
// restart it when its health check turns unhealthy (docker only reports).
const restartOnUnhealthyLabel = "berth.restart-on-unhealthy"

type healthMonitor struct {
	stop chan struct{}
}

func hasHealthcheck(cfg *containertypes.Config) bool {
	h := cfg.Healthcheck
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// startHealthMonitor starts the container's probe loop. The caller holds
// c's lock, and the container has just started.
func (d *Daemon) startHealthMonitor(c *container.Container, r *run) {
	r.stopHealthMonitor()
	if !hasHealthcheck(c.Config) || r.task == nil {
		return
	}
	m := &healthMonitor{stop: make(chan struct{})}
	r.health = m
	hc := *c.Config.Healthcheck
	d.bg.Add(1)
	go d.healthLoop(c, r, m, hc, c.State.StartedAt)
}

// stopHealthMonitor ends the probe loop. The caller holds c's lock.
func (r *run) stopHealthMonitor() {
	if r.health != nil {
		close(r.health.stop)
		r.health = nil
	}
}

func (d *Daemon) healthLoop(c *container.Container, r *run, m *healthMonitor, hc containertypes.HealthConfig, startedAt time.Time) {
	defer d.bg.Done()
	interval := durationOr(hc.Interval, healthDefaultInterval)
	startInterval := durationOr(hc.StartInterval, healthDefaultStartInterval)
	timeout := durationOr(hc.Timeout, healthDefaultTimeout)
	for {
		wait := interval
		// During the start period docker probes at the start interval
		// (API 1.44 on), so a quick service is seen healthy quickly.
		if hc.StartPeriod > 0 && time.Since(startedAt) < hc.StartPeriod {
			wait = min(startInterval, interval)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-m.stop:
			t.Stop()
			return
		case <-d.shutdown:
			t.Stop()
			return
		}
		res := d.probe(c, r, hc, timeout)
		if turnedUnhealthy := d.recordProbe(c, r, m, hc, startedAt, res); turnedUnhealthy {
			c.Lock()
			restart := c.Labels()[restartOnUnhealthyLabel] == "true"
			c.Unlock()
			if restart {
				d.log.Info("restarting an unhealthy container", "container", c.ID, "label", restartOnUnhealthyLabel)
				d.bg.Add(1)
				go func() {
					defer d.bg.Done()
					if err := d.ContainerRestart(context.Background(), c.ID, server.StopOptions{}); err != nil {
						d.log.Warn("restart on unhealthy", "container", c.ID, "err", err)
					}
				}()
				return
			}
		}
	}
}

func durationOr(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// probe runs the check command in the container, as an exec, and
// returns its result; a check that outlives the timeout is a failure
// with docker's message.
func (d *Daemon) probe(c *container.Container, r *run, hc containertypes.HealthConfig, timeout time.Duration) *containertypes.HealthcheckResult {
	res := &containertypes.HealthcheckResult{Start: time.Now()}
	var argv []string
	switch hc.Test[0] {
	case "CMD":
		argv = hc.Test[1:]
	case "CMD-SHELL":
		c.Lock()
		shell := c.Config.Shell
		c.Unlock()
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		argv = append(append([]string(nil), shell...), hc.Test[1:]...)
	}
	if len(argv) == 0 {
		res.End, res.ExitCode, res.Output = time.Now(), -1, "no health check command"
		return res
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := &limitedBuffer{max: healthMaxOutput}
	code, err := d.runInternalExec(ctx, c, r, argv, out)
	res.End = time.Now()
	switch {
	case ctx.Err() != nil:
		res.ExitCode = -1
		res.Output = fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
	case err != nil:
		res.ExitCode = -1
		res.Output = err.Error()
	default:
		res.ExitCode = code
		res.Output = out.String()
	}
	return res
}

// recordProbe applies one result, docker's way: success is healthy with
// no failing streak; a failure counts toward the retries (not while still
// starting within the start period); the last results are kept. It
// reports whether the container just turned unhealthy.
func (d *Daemon) recordProbe(c *container.Container, r *run, m *healthMonitor, hc containertypes.HealthConfig, startedAt time.Time, res *containertypes.HealthcheckResult) bool {
	c.Lock()
	defer c.Unlock()
	if r.health != m || c.State.Health == nil {
		return false
	}
	h := c.State.Health
	before := h.Status
	retries := hc.Retries
	if retries <= 0 {
		retries = healthDefaultRetries
	}
	if res.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = containertypes.Healthy
	} else if !(h.Status == containertypes.Starting && res.Start.Sub(startedAt) < hc.StartPeriod) {
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = containertypes.Unhealthy
		}
	}
	h.Log = append(h.Log, res)
	if len(h.Log) > healthMaxLogEntries {
		h.Log = append([]*containertypes.HealthcheckResult(nil), h.Log[len(h.Log)-healthMaxLogEntries:]...)
	}
	if h.Status != before {
		d.emit(c, events.Action(string(events.ActionHealthStatus)+": "+string(h.Status)), nil)
		if err := d.containers.Checkpoint(c); err != nil {
			d.log.Warn("health: save record", "container", c.ID, "err", err)
		}
	}
	return h.Status == containertypes.Unhealthy && before != containertypes.Unhealthy
}

// limitedBuffer keeps the first max bytes written to it and drops the
// rest (docker keeps 4 KiB of a check's output).
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
