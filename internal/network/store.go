package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/berth-project/berth/internal/atomicfile"
)

// The store is one JSON file per network (<Root>/networks/<id>.json) and
// one per endpoint (<RunRoot>/endpoints/<id>.json); an endpoint's file
// is its address and port allocation. Files are replaced atomically, so a
// crash leaves each one old or new.
//
// Where and how durably differs on purpose. Network records are user-made
// and outlive reboots: the data root, fsynced. An endpoint only means
// something while its container's namespace exists, which no reboot
// survives, so its record lives in the exec root beside the namespaces
// (tmpfs, /run) and is not fsynced: a daemon crash keeps it, a reboot
// clears it together with what it described. That keeps the disk off the
// container-start path entirely (a record written to a busy disk took
// 1.7 ms here, even without fsync).

type netRecord struct {
	Network
	MTU int `json:",omitempty"`

	brIndex atomic.Int32 // the bridge's ifindex once looked up (endpoint_linux.go)
}

type epRecord struct {
	Endpoint
	ContainerName string           `json:",omitempty"`
	Hostname      string           `json:",omitempty"`
	NsPath        string           `json:",omitempty"`
	DefaultRoute  bool             `json:",omitempty"`
	Upstreams     []netip.AddrPort `json:",omitempty"`

	// releasing is made by Disconnect and closed when the release has
	// finished; an endpoint still held with it closed is one whose
	// release failed (Reconcile retries). Nil while connected.
	releasing chan struct{}
	// ready is the ready-made interface Connect uses, if any.
	ready *readyUse
}

// state says where an endpoint is in its life.
func (ep *epRecord) state() epState {
	if ep.releasing == nil {
		return epConnected
	}
	select {
	case <-ep.releasing:
		return epStuck
	default:
		return epReleasing
	}
}

type epState int

const (
	epConnected epState = iota
	epReleasing         // Disconnect's work is in flight
	epStuck             // its release failed: still holds its address and ports
)

type store struct {
	root    string // <data-root>/network
	runRoot string // <exec-root>/network: endpoint records
	log     *slog.Logger
}

func (s store) networksDir() string  { return filepath.Join(s.root, "networks") }
func (s store) endpointsDir() string { return filepath.Join(s.runRoot, "endpoints") }

func (s store) init() error {
	for _, d := range []string{s.networksDir(), s.endpointsDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// load reads every record of dir into out (one per file), removes the
// temporary files a crash left and skips, with a warning, files it cannot
// decode rather than refusing to start.
func load[T any](s store, dir string, out *[]T) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, atomicfile.DefaultTempPrefix) {
			_ = os.Remove(path)
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r T
		if err := json.Unmarshal(data, &r); err != nil {
			s.log.Warn("network: skipping an unreadable record", "path", path, "err", err)
			continue
		}
		*out = append(*out, r)
	}
	return nil
}

func (s store) loadNetworks() ([]netRecord, error) {
	var out []netRecord
	return out, load(s, s.networksDir(), &out)
}

func (s store) loadEndpoints() ([]epRecord, error) {
	var out []epRecord
	return out, load(s, s.endpointsDir(), &out)
}

func (s store) putNetwork(r *netRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(s.networksDir(), r.ID+".json"), data, 0o600); err != nil {
		return fmt.Errorf("network %s: store: %w", r.Name, err)
	}
	return nil
}

func (s store) putEndpointData(id string, data []byte) error {
	if err := atomicfile.Write(filepath.Join(s.endpointsDir(), id+".json"), data, 0o600, atomicfile.WithoutSync()); err != nil {
		return fmt.Errorf("endpoint %s: store: %w", id, err)
	}
	return nil
}

func removeRecord(path string, sync bool) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if sync {
		return atomicfile.SyncDir(filepath.Dir(path))
	}
	return nil
}

func (s store) deleteNetwork(id string) error {
	return removeRecord(filepath.Join(s.networksDir(), id+".json"), true)
}

func (s store) deleteEndpoint(id string) error {
	return removeRecord(filepath.Join(s.endpointsDir(), id+".json"), false)
}
