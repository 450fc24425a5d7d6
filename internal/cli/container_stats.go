package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	sdk "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/format"
	"github.com/berth-project/berth/internal/client"
)

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeader = format.Header{
	"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

// statsRedraw is how often the live table is drawn again.
const statsRedraw = 500 * time.Millisecond

type statsOptions struct {
	all, noStream, noTrunc bool
	format                 string
}

func newStatsCommand(a *app) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd.Context(), a, o, args)
		},
		Annotations:           map[string]string{"aliases": "berth container stats, berth stats"},
		DisableFlagsInUseLine: true,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&o.format, "format", "", tableFormatHelp)
	return cmd
}

// statsEntry is the latest figures for one container.
type statsEntry struct {
	container           string
	name, id            string
	cpu, memPerc        float64
	mem, memLimit       float64
	netRx, netTx        float64
	blockRead, blockOut float64
	pids                uint64
	err                 error
	seen                bool
}

// statsSet collects entries from the per-container readers.
type statsSet struct {
	mu      sync.Mutex
	entries map[string]*statsEntry
	order   []string
}

func (s *statsSet) add(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[name]; ok {
		return false
	}
	s.entries[name] = &statsEntry{container: name}
	s.order = append(s.order, name)
	return true
}

// retain drops the containers not in keep (they stopped or went away).
func (s *statsSet) retain(keep map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	order := s.order[:0]
	for _, n := range s.order {
		if keep[n] {
			order = append(order, n)
		} else {
			delete(s.entries, n)
		}
	}
	s.order = order
}

func (s *statsSet) update(name string, fn func(e *statsEntry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[name]; ok {
		fn(e)
	}
}

func (s *statsSet) snapshot() []statsEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]statsEntry, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, *s.entries[n])
	}
	return out
}

func runStats(ctx context.Context, a *app, o statsOptions, names []string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	user := o.format
	if user == "" {
		user = a.config().StatsFormat
	}
	f := format.Format(user).Or(statsTable)
	if _, err := format.Parse(f.Template()); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	set := &statsSet{entries: map[string]*statsEntry{}}
	var wg sync.WaitGroup
	watch := func(name string) {
		if !set.add(name) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			collectStats(ctx, c, name, !o.noStream, set)
		}()
	}
	list := func() error {
		res, err := c.ContainerList(ctx, sdk.ContainerListOptions{All: o.all})
		if err != nil {
			return err
		}
		keep := map[string]bool{}
		for _, ctr := range res.Items {
			keep[ctr.ID] = true
			watch(ctr.ID)
		}
		set.retain(keep)
		return nil
	}
	if len(names) == 0 {
		if err := list(); err != nil {
			return err
		}
	}
	for _, n := range names {
		watch(n)
	}

	render := func() error {
		var rows []any
		for _, e := range set.snapshot() {
			if e.err != nil && len(names) == 0 {
				continue // a listed container that went away
			}
			rows = append(rows, statsRow{e: e, trunc: !o.noTrunc})
		}
		return format.Write(a.streams.Out, f, statsHeader, rows)
	}
	if o.noStream {
		wg.Wait()
		var errs []error
		for _, e := range set.snapshot() {
			if e.err != nil && len(names) > 0 {
				errs = append(errs, e.err)
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		return render()
	}

	tty := isTerminal(a.streams.Out)
	tick := time.NewTicker(statsRedraw)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if len(names) == 0 {
			if err := list(); err != nil {
				return err
			}
		} else if allFailed(set.snapshot()) {
			var errs []error
			for _, e := range set.snapshot() {
				errs = append(errs, e.err)
			}
			return errors.Join(errs...)
		}
		if tty {
			// Clear the screen and draw from the top, as docker does.
			io.WriteString(a.streams.Out, "\033[2J\033[H")
		}
		if err := render(); err != nil {
			return err
		}
	}
}

func allFailed(entries []statsEntry) bool {
	for _, e := range entries {
		if e.err == nil {
			return false
		}
	}
	return len(entries) > 0
}

// collectStats reads one container's stats: a single sample (with the
// previous one for CPU deltas) or the stream until ctx ends.
func collectStats(ctx context.Context, c *client.Client, name string, stream bool, set *statsSet) {
	res, err := c.ContainerStats(ctx, name, sdk.ContainerStatsOptions{Stream: stream, IncludePreviousSample: true})
	if err != nil {
		set.update(name, func(e *statsEntry) { e.err = err })
		return
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				set.update(name, func(e *statsEntry) { e.err = err })
			}
			return
		}
		set.update(name, func(e *statsEntry) { fillStats(e, &s) })
		if !stream {
			return
		}
	}
}

// fillStats computes docker's figures from a sample.
func fillStats(e *statsEntry, s *container.StatsResponse) {
	e.seen = true
	e.name = strings.TrimPrefix(s.Name, "/")
	e.id = s.ID
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	cpus := float64(s.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	e.cpu = 0
	if sysDelta > 0 && cpuDelta > 0 {
		e.cpu = cpuDelta / sysDelta * cpus * 100
	}
	usage := float64(s.MemoryStats.Usage)
	// The page cache that can be dropped is not the container's use.
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := s.MemoryStats.Stats[k]; ok && float64(v) < usage {
			usage -= float64(v)
			break
		}
	}
	e.mem, e.memLimit = usage, float64(s.MemoryStats.Limit)
	e.memPerc = 0
	if e.memLimit != 0 {
		e.memPerc = usage / e.memLimit * 100
	}
	e.netRx, e.netTx = 0, 0
	for _, n := range s.Networks {
		e.netRx += float64(n.RxBytes)
		e.netTx += float64(n.TxBytes)
	}
	e.blockRead, e.blockOut = 0, 0
	for _, b := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			e.blockRead += float64(b.Value)
		case "write":
			e.blockOut += float64(b.Value)
		}
	}
	e.pids = s.PidsStats.Current
}

// statsRow is one container's line of the stats table.
type statsRow struct {
	e     statsEntry
	trunc bool
}

func (r statsRow) MarshalJSON() ([]byte, error) { return format.MarshalMethods(r) }

func (r statsRow) Container() string { return r.e.container }

func (r statsRow) Name() string {
	if r.e.name == "" {
		return "--"
	}
	return r.e.name
}

func (r statsRow) ID() string {
	id := r.e.id
	if id == "" {
		id = r.e.container
	}
	if r.trunc {
		return format.TruncateID(id)
	}
	return id
}

func (r statsRow) CPUPerc() string {
	if !r.e.seen {
		return "--"
	}
	return fmt.Sprintf("%.2f%%", r.e.cpu)
}

func (r statsRow) MemUsage() string {
	if !r.e.seen {
		return "-- / --"
	}
	return units.BytesSize(r.e.mem) + " / " + units.BytesSize(r.e.memLimit)
}

func (r statsRow) MemPerc() string {
	if !r.e.seen {
		return "--"
	}
	return fmt.Sprintf("%.2f%%", r.e.memPerc)
}

func (r statsRow) NetIO() string {
	if !r.e.seen {
		return "--"
	}
	return units.HumanSizeWithPrecision(r.e.netRx, 3) + " / " + units.HumanSizeWithPrecision(r.e.netTx, 3)
}

func (r statsRow) BlockIO() string {
	if !r.e.seen {
		return "--"
	}
	return units.HumanSizeWithPrecision(r.e.blockRead, 3) + " / " + units.HumanSizeWithPrecision(r.e.blockOut, 3)
}

func (r statsRow) PIDs() string {
	if !r.e.seen {
		return "--"
	}
	return fmt.Sprintf("%d", r.e.pids)
}
