package daemon

import "github.com/berth-project/berth/internal/api/server"

// The API's container filesystem endpoints (server.ContainerFSBackend),
// one file each: cp (fs_cp.go, over the views of fs_view.go), diff
// (fs_changes.go), export (fs_export.go) and commit (fs_commit.go).
var _ server.ContainerFSBackend = (*Daemon)(nil)
