package cpath

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/errdefs"
)

// PathStat is what the archive endpoints say of a path: name, size, mode
// (Go's fs.FileMode bits, as dockerd reports an os.Lstat), mtime and, for
// a symlink, the path it leads to inside the container, every link
// followed. It is the Engine API's own type.
type PathStat = container.PathStat

// PathStatHeader is the response header of HEAD and GET
// /containers/{id}/archive that carries EncodePathStat.
const PathStatHeader = "X-Docker-Container-Path-Stat"

// EncodePathStat gives the value of PathStatHeader exactly as dockerd
// writes it: the standard base64 of the JSON of st.
func EncodePathStat(st PathStat) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("encoding path stat: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// DecodePathStat reads a PathStatHeader value (the client's side).
func DecodePathStat(v string) (PathStat, error) {
	var st PathStat
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return st, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to decode container path stat header: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to decode container path stat header: %w", err)
	}
	return st, nil
}
