package runtime

import (
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The state file keeps the container's config as the JSON it was read
// from (savedState.Config). Every command is a fresh process, and
// encoding/json builds a decoder for each of the ~150 types specs.Spec
// reaches before it decodes the first field: about a millisecond of a
// cold process, more than delete or state otherwise cost. Most commands
// need only a few fields (specView); those that need the whole spec
// (exec, update) decode it (Container.Spec).

// specView is the part of the spec that start, state, delete and the
// hooks need. Decoding it skips over the rest of the document.
type specView struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Linux       *struct {
		Seccomp *struct {
			ListenerPath     string `json:"listenerPath,omitempty"`
			ListenerMetadata string `json:"listenerMetadata,omitempty"`
		} `json:"seccomp,omitempty"`
	} `json:"linux,omitempty"`
}

// view decodes the spec's specView part once. A config that cannot be
// decoded (the state file was damaged) reads as having no annotations,
// hooks or listener, so that delete can still remove the container.
func (c *Container) view() *specView {
	if c.specView == nil {
		c.specView = &specView{}
		if err := json.Unmarshal(c.st.Config, c.specView); err != nil {
			c.rt.log.Warn("container config in state", "id", c.st.ID, "err", err)
			c.specView = &specView{}
		}
	}
	return c.specView
}

// seccompListener is the spec's linux.seccomp.listenerPath and
// listenerMetadata.
func (v *specView) seccompListener() (path, metadata string) {
	if v.Linux == nil || v.Linux.Seccomp == nil {
		return "", ""
	}
	return v.Linux.Seccomp.ListenerPath, v.Linux.Seccomp.ListenerMetadata
}

// poststart and poststop are the spec's hooks of those kinds.
func (v *specView) poststart() []specs.Hook {
	if v.Hooks == nil {
		return nil
	}
	return v.Hooks.Poststart
}

func (v *specView) poststop() []specs.Hook {
	if v.Hooks == nil {
		return nil
	}
	return v.Hooks.Poststop
}

// Spec is the config the container was created from, decoded whole.
func (c *Container) Spec() (*specs.Spec, error) {
	if c.spec == nil {
		var s specs.Spec
		if err := json.Unmarshal(c.st.Config, &s); err != nil {
			return nil, fmt.Errorf("container %s: config in state: %w", c.st.ID, err)
		}
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		c.spec = &s
	}
	return c.spec, nil
}

// setSpec records a changed spec in the state (written by the caller).
func (c *Container) setSpec(s *specs.Spec) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	c.st.Config, c.spec, c.specView = data, s, nil
	return nil
}
