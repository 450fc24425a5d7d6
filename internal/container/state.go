package container

import (
	"fmt"
	"slices"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/errdefs"
)

// Status is one of docker's container states.
type Status = containertypes.ContainerState

// The states, docker's names.
const (
	Created    = containertypes.StateCreated
	Running    = containertypes.StateRunning
	Paused     = containertypes.StatePaused
	Restarting = containertypes.StateRestarting
	Removing   = containertypes.StateRemoving
	Exited     = containertypes.StateExited
	Dead       = containertypes.StateDead
)

// transitions lists where each state may go. The daemon moves a record
// only through State's methods, which check this table, so a container
// can never be, say, paused without having run:
//
//	created ──start──> running ──exit──> exited ──start──> running
//	                     │  ^                 ^
//	               pause │  │ unpause         │ stop / start failed
//	                     v  │                 │
//	                    paused ──kill──> exited
//	running ──exit with a restart policy──> restarting ──start──> running
//	any but removing ──rm──> removing ──gone (or failed)──> dead
//
// A removal that is refused (a running container without force) never
// enters removing; one that fails half way leaves the container dead,
// which only a second rm (or the daemon's next start) clears.
var transitions = map[Status][]Status{
	Created:    {Running, Exited, Removing, Dead},
	Running:    {Paused, Exited, Restarting, Removing, Dead},
	Paused:     {Running, Exited, Removing, Dead},
	Restarting: {Running, Exited, Removing, Dead},
	Exited:     {Running, Restarting, Removing, Dead},
	Removing:   {Dead},
	Dead:       {Removing},
}

// State is a container's state as the store keeps it; inspect shows it
// through APIState.
type State struct {
	Status     Status
	Pid        int       `json:",omitempty"`
	ExitCode   int       `json:",omitempty"`
	Error      string    `json:",omitempty"`
	OOMKilled  bool      `json:",omitempty"`
	StartedAt  time.Time `json:",omitzero"`
	FinishedAt time.Time `json:",omitzero"`
	// Health is nil for a container without a health check.
	Health *containertypes.Health `json:",omitempty"`
}

// CanMove reports whether the state machine allows s -> to.
func (s *State) CanMove(to Status) bool {
	return slices.Contains(transitions[s.Status], to)
}

func (s *State) move(to Status) error {
	if !s.CanMove(to) {
		return fmt.Errorf("container state %s cannot become %s: %w", s.Status, to, errdefs.ErrConflict)
	}
	s.Status = to
	return nil
}

// SetRunning records that the container's init runs as pid, started at.
func (s *State) SetRunning(pid int, at time.Time) error {
	if s.Status == Paused {
		return fmt.Errorf("container is paused: %w", errdefs.ErrConflict)
	}
	if err := s.move(Running); err != nil {
		return err
	}
	s.Pid = pid
	s.StartedAt = at
	s.ExitCode = 0
	s.Error = ""
	s.OOMKilled = false
	if s.Health != nil {
		s.Health = &containertypes.Health{Status: containertypes.Starting}
	}
	return nil
}

// SetExited records how the container's init ended. errMsg is the reason
// it did not run at all, or why its end is not known exactly ("" if none).
func (s *State) SetExited(code int, oomKilled bool, at time.Time, errMsg string) error {
	if err := s.move(Exited); err != nil {
		return err
	}
	s.Pid = 0
	s.ExitCode = code
	s.OOMKilled = oomKilled
	s.FinishedAt = at
	s.Error = errMsg
	// Health stays as the last check left it, as docker's does.
	return nil
}

// SetPaused records a pause.
func (s *State) SetPaused() error { return s.move(Paused) }

// SetUnpaused records a resume.
func (s *State) SetUnpaused() error {
	if s.Status != Paused {
		return fmt.Errorf("container state %s cannot be unpaused: %w", s.Status, errdefs.ErrConflict)
	}
	return s.move(Running)
}

// SetRestarting records that the init exited and a restart policy will
// start it again after a back-off.
func (s *State) SetRestarting(code int, oomKilled bool, at time.Time) error {
	if err := s.move(Restarting); err != nil {
		return err
	}
	s.Pid = 0
	s.ExitCode = code
	s.OOMKilled = oomKilled
	s.FinishedAt = at
	return nil
}

// SetRemoving marks the start of a removal.
func (s *State) SetRemoving() error { return s.move(Removing) }

// SetDead records a removal that failed half way.
func (s *State) SetDead(errMsg string) error {
	if err := s.move(Dead); err != nil {
		return err
	}
	s.Pid = 0
	if errMsg != "" {
		s.Error = errMsg
	}
	return nil
}

// IsRunning is docker's notion: the init exists (running, paused), or a
// restart is pending.
func (s *State) IsRunning() bool {
	return s.Status == Running || s.Status == Paused || s.Status == Restarting
}

// HasProcess reports whether the init process exists.
func (s *State) HasProcess() bool {
	return s.Status == Running || s.Status == Paused
}

// APIState is s in inspect's shape.
func (s *State) APIState() *containertypes.State {
	st := &containertypes.State{
		Status:     s.Status,
		Running:    s.IsRunning(),
		Paused:     s.Status == Paused,
		Restarting: s.Status == Restarting,
		OOMKilled:  s.OOMKilled,
		Dead:       s.Status == Dead,
		Pid:        s.Pid,
		ExitCode:   s.ExitCode,
		Error:      s.Error,
		StartedAt:  apiTime(s.StartedAt),
		FinishedAt: apiTime(s.FinishedAt),
	}
	if s.Health != nil {
		h := *s.Health
		h.Log = slices.Clone(h.Log)
		st.Health = &h
	}
	return st
}

// apiTime formats t as docker does, the zero time included
// ("0001-01-01T00:00:00Z").
func apiTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
