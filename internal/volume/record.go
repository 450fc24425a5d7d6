package volume

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/internal/atomicfile"
)

const (
	// recordFile holds a volume's record, beside its data directory.
	recordFile = "volume.json"
	// dataDir is the directory containers see; docker's name for it.
	dataDir = "_data"
	// recordVersion is the record's format; a newer one is refused
	// rather than misread.
	recordVersion = 1
)

// record is what is durable about a volume. Maps keep nil apart from
// empty (no omitempty): the API shows null and {} as docker does.
type record struct {
	Version   int               `json:"version"`
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	Options   map[string]string `json:"options"`
	Labels    map[string]string `json:"labels"`
	CreatedAt time.Time         `json:"createdAt"`
	Anonymous bool              `json:"anonymous,omitempty"`
}

// writeRecord replaces dir's record, durably.
func writeRecord(dir string, r record) error {
	r.Version = recordVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, recordFile), b, 0o600)
}

// readRecord reads dir's record and checks it belongs there.
func readRecord(dir, name string) (record, error) {
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return record{}, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("volume record %s: %w: %w", filepath.Join(dir, recordFile), errTornRecord, err)
	}
	switch {
	case r.Version > recordVersion:
		return record{}, fmt.Errorf("volume record %s: version %d is newer than this engine's (%d)", dir, r.Version, recordVersion)
	case r.Name != name:
		return record{}, fmt.Errorf("volume record %s: names volume %q", dir, r.Name)
	case r.Driver != DriverLocal:
		return record{}, fmt.Errorf("volume record %s: driver %q", dir, r.Driver)
	}
	return r, nil
}
