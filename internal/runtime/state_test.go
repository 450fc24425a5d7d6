package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateFile: the state is written deflated and read back; a plain
// JSON state of an earlier runtime is read, and replaced by the next
// write; a damaged file is an error, not a panic.
func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	config := json.RawMessage(`{"ociVersion":"1.2.0","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[` +
		strings.Repeat(`{"names":["accept","accept4","access"],"action":"SCMP_ACT_ALLOW"},`, 60) + `{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}}}`)
	st := &savedState{ID: "c1", Bundle: "/b", InitPid: 42, Config: config, CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/c1"}}
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= int64(len(config)) {
		t.Errorf("state is %d bytes for a %d-byte config: not deflated", fi.Size(), len(config))
	}
	got, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "c1" || got.InitPid != 42 || string(got.Config) != string(config) || got.CgroupPaths["memory"] != st.CgroupPaths["memory"] {
		t.Errorf("read back %+v", got)
	}

	legacy := t.TempDir()
	old, _ := json.Marshal(savedState{Version: 1, ID: "c2", Config: json.RawMessage(`{}`)})
	if err := os.WriteFile(filepath.Join(legacy, legacyStateFile), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readState(legacy); err != nil || got.ID != "c2" {
		t.Fatalf("legacy state: %+v, %v", got, err)
	}
	if err := writeState(legacy, &savedState{ID: "c2", Config: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(legacy, legacyStateFile)); !os.IsNotExist(err) {
		t.Errorf("the legacy state file is still there after a write: %v", err)
	}

	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("not deflate at all \xff\xfe"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readState(dir); err == nil || !strings.Contains(err.Error(), "corrupt state") {
		t.Errorf("a damaged state file: %v, want a corrupt state error", err)
	}
}
