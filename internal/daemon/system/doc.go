// Package system answers the Engine API's system endpoints that are not
// about one container or image: GET /info, GET /version, GET /system/df,
// GET /events and POST /auth (the server's SystemBackend, with the
// daemon's own pieces). It reads the host (kernel, OS release, memory,
// cgroup features) and asks the daemon's other services through small
// interfaces (container counts, disk usage), so it holds no state of its
// own but the engine ID, a file in the data root that keeps the daemon's
// identity across restarts.
package system
