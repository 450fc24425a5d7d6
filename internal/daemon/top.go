package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/errdefs"
)

// ContainerTop is GET /containers/{id}/top: the container's processes,
// from the shim, described by the host's ps (with the caller's ps_args,
// default -ef), keeping the lines of those processes: docker's way.
func (d *Daemon) ContainerTop(ctx context.Context, name, psArgs string) (containertypes.TopResponse, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	c, r, err := d.get(name)
	if err != nil {
		return containertypes.TopResponse{}, err
	}
	c.Lock()
	task, running := r.task, c.State.HasProcess()
	c.Unlock()
	if !running || task == nil {
		return containertypes.TopResponse{}, errdefs.Errorf(errdefs.ErrConflict, "Container %s is not running", c.ID)
	}
	pids, err := task.Pids(ctx)
	if err != nil {
		return containertypes.TopResponse{}, err
	}
	args := strings.Fields(psArgs)
	out, err := exec.CommandContext(ctx, "ps", args...).Output()
	if err != nil {
		return containertypes.TopResponse{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "ps: %s", psFailure(err))
	}
	resp, err := parsePS(out, pids)
	if err != nil {
		return resp, err
	}
	// dockerd announces every top that answered.
	d.lockAndEmit(c, "top", nil)
	return resp, nil
}

// psFailure is why ps failed as docker tells it: the first line of what
// ps printed on stderr (its complaint about the arguments), else err.
func psFailure(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if line, _, _ := bytes.Cut(ee.Stderr, []byte("\n")); len(line) > 0 {
			return string(line)
		}
	}
	return err.Error()
}

// parsePS keeps ps's header and the lines whose PID column is one of
// pids. The last column (the command) may hold spaces.
func parsePS(out []byte, pids []int) (containertypes.TopResponse, error) {
	lines := strings.Split(string(bytes.TrimRight(out, "\n")), "\n")
	if len(lines) == 0 {
		return containertypes.TopResponse{}, fmt.Errorf("ps printed nothing")
	}
	titles := strings.Fields(lines[0])
	pidCol := slices.Index(titles, "PID")
	if pidCol < 0 {
		return containertypes.TopResponse{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "Couldn't find PID field in ps output")
	}
	resp := containertypes.TopResponse{Titles: titles, Processes: [][]string{}}
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(fields[pidCol])
		if err != nil {
			return containertypes.TopResponse{}, errdefs.Errorf(errdefs.ErrInvalidParameter, "Unexpected pid '%s': %v", fields[pidCol], err)
		}
		if !slices.Contains(pids, pid) {
			continue
		}
		proc := fields
		if len(fields) >= len(titles) {
			proc = append(append([]string(nil), fields[:len(titles)-1]...), strings.Join(fields[len(titles)-1:], " "))
		}
		resp.Processes = append(resp.Processes, proc)
	}
	return resp, nil
}
