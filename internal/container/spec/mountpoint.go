package spec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/errdefs"
)

// The parsing of -v, --mount and --volumes-from below follows docker's
// Linux mount parser (moby's volume/mounts), rule for rule and word for
// word, so the docker CLI prints what a docker user expects. The daemon
// parses at create and records the result (container.MountPoint); start
// works from the record.

// Mode words a -v third field may hold, by kind: at most one of each kind.
var (
	rwModes          = map[string]bool{"rw": true, "ro": true}
	labelModes       = map[string]bool{"z": true, "Z": true}
	propagationModes = map[string]bool{
		"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
	}
	consistencyModes = map[string]bool{"consistent": true, "cached": true, "delegated": true}
)

// validMode reports whether mode is a valid -v mode: comma-separated
// words, at most one of each kind (rw, label, propagation, copy,
// consistency).
func validMode(mode string) bool {
	if mode == "" {
		return true
	}
	var rw, label, prop, cp, consistency int
	for o := range strings.SplitSeq(mode, ",") {
		switch {
		case rwModes[o]:
			rw++
		case labelModes[o]:
			label++
		case propagationModes[o]:
			prop++
		case o == "nocopy":
			cp++
		case consistencyModes[o]:
			consistency++
		default:
			return false
		}
	}
	return rw <= 1 && label <= 1 && prop <= 1 && cp <= 1 && consistency <= 1
}

// ReadWrite reports whether a valid mode leaves the mount writable (no
// "ro" in it); an invalid mode is read-only.
func ReadWrite(mode string) bool {
	if !validMode(mode) {
		return false
	}
	for o := range strings.SplitSeq(mode, ",") {
		if o == "ro" {
			return false
		}
	}
	return true
}

func modePropagation(mode string) mount.Propagation {
	for o := range strings.SplitSeq(mode, ",") {
		if propagationModes[o] {
			return mount.Propagation(o)
		}
	}
	return ""
}

func modeHasNocopy(mode string) bool {
	for o := range strings.SplitSeq(mode, ",") {
		if o == "nocopy" {
			return true
		}
	}
	return false
}

func invalidSpec(raw string) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid volume specification: '%s'", raw)
}

// ParseBind parses one HostConfig.Binds entry (-v): [source:]target[:mode].
// A source that is an absolute path makes a bind of that host path,
// which need not exist (the daemon creates it at start, as docker); any
// other source names a volume; no source makes an anonymous volume. A
// local volume without a mode shows mode "z", as docker's. Errors are
// InvalidParameter with docker's words.
func ParseBind(raw string) (*container.MountPoint, error) {
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return nil, invalidSpec(raw)
	}
	var m mount.Mount
	var mode string
	switch len(arr) {
	case 1:
		m.Target = arr[0]
	case 2:
		if validMode(arr[1]) {
			// A destination and a mode: volumes cannot carry a mode
			// without a source (/foo:rw).
			return nil, invalidSpec(raw)
		}
		m.Source, m.Target = arr[0], arr[1]
	case 3:
		m.Source, m.Target, mode = arr[0], arr[1], arr[2]
	default:
		return nil, invalidSpec(raw)
	}
	if !validMode(mode) {
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mode: %s", mode)
	}
	if path.IsAbs(m.Source) {
		m.Type = mount.TypeBind
	} else {
		m.Type = mount.TypeVolume
	}
	m.ReadOnly = !ReadWrite(mode)
	if modeHasNocopy(mode) {
		m.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
	}
	if p := modePropagation(mode); p != "" {
		m.BindOptions = &mount.BindOptions{Propagation: p}
	}
	mp, err := parseMount(m, false)
	if err != nil {
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid volume specification: '%s': %v", raw, err)
	}
	mp.Mode = mode
	if mp.Type == mount.TypeVolume && mp.Mode == "" {
		mp.Mode = "z"
	}
	return mp, nil
}

// ParseMount parses one HostConfig.Mounts entry (--mount). A bind's
// source must exist, unless BindOptions.CreateMountpoint asks for it to
// be created. A local volume shows mode "z", as docker's. Errors are
// InvalidParameter with docker's words.
func ParseMount(m mount.Mount) (*container.MountPoint, error) {
	mp, err := parseMount(m, true)
	if errdefs.IsNotImplemented(err) {
		return nil, err
	}
	if err != nil {
		return nil, errdefs.Errorf(errdefs.ErrInvalidParameter, "%v", err)
	}
	switch mp.Type {
	case mount.TypeVolume:
		mp.Mode = "z"
	case mount.TypeBind:
		mp.SkipMountpointCreation = m.BindOptions == nil || !m.BindOptions.CreateMountpoint
	}
	return mp, nil
}

// ParseVolumesFrom parses one HostConfig.VolumesFrom entry:
// container[:mode], where mode may say ro or rw (and a label), but no
// propagation and no copy mode: the mounts keep the other container's.
func ParseVolumesFrom(s string) (name, mode string, err error) {
	if s == "" {
		return "", "", errdefs.Errorf(errdefs.ErrInvalidParameter, "volumes-from specification cannot be an empty string")
	}
	name, mode, _ = strings.Cut(s, ":")
	if mode == "" {
		return name, "rw", nil
	}
	if !validMode(mode) || modePropagation(mode) != "" || modeHasNocopy(mode) {
		return "", "", errdefs.Errorf(errdefs.ErrInvalidParameter, "invalid mode: %s", mode)
	}
	return name, mode, nil
}

// mountConfigError is docker's errMountConfig.
func mountConfigError(m mount.Mount, err error) error {
	return fmt.Errorf("invalid mount config for type %q: %v", m.Type, err)
}

// parseMount checks m and makes it a mount point; bindMustExist is
// --mount's rule (-v creates a missing host path instead).
func parseMount(m mount.Mount, bindMustExist bool) (*container.MountPoint, error) {
	if err := validateMount(m, bindMustExist); err != nil {
		return nil, err
	}
	mp := &container.MountPoint{
		Type:        m.Type,
		Destination: path.Clean(m.Target),
		RW:          !m.ReadOnly,
		Spec:        m,
	}
	switch m.Type {
	case mount.TypeVolume:
		mp.Name = m.Source // empty: anonymous, named when created
		mp.CopyData = true
		if o := m.VolumeOptions; o != nil {
			if o.DriverConfig != nil {
				mp.Driver = o.DriverConfig.Name
			}
			if o.NoCopy {
				mp.CopyData = false
			}
		}
	case mount.TypeBind:
		mp.Source = path.Clean(m.Source)
		mp.Propagation = mount.PropagationRPrivate
		if o := m.BindOptions; o != nil && o.Propagation != "" {
			mp.Propagation = o.Propagation
		}
	}
	return mp, nil
}

// validateMount is docker's validateMountConfig for Linux.
func validateMount(m mount.Mount, bindMustExist bool) error {
	if m.Target == "" {
		return mountConfigError(m, errors.New("field Target must not be empty"))
	}
	if path.Clean(m.Target) == "/" {
		return mountConfigError(m, errors.New("invalid specification: destination can't be '/'"))
	}
	if !path.IsAbs(m.Target) {
		return mountConfigError(m, fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Target))
	}
	extra := func(name string) error {
		return mountConfigError(m, fmt.Errorf("field %s must not be specified", name))
	}
	switch m.Type {
	case mount.TypeBind:
		if m.Source == "" {
			return mountConfigError(m, errors.New("field Source must not be empty"))
		}
		if o := m.BindOptions; o != nil {
			if o.Propagation != "" && !propagationModes[string(o.Propagation)] {
				return mountConfigError(m, fmt.Errorf("invalid propagation mode: %s", o.Propagation))
			}
			if o.ReadOnlyNonRecursive && o.ReadOnlyForceRecursive {
				return mountConfigError(m, errors.New("ReadOnlyNonRecursive and ReadOnlyForceRecursive are mutually exclusive"))
			}
		}
		if m.VolumeOptions != nil {
			return extra("VolumeOptions")
		}
		if m.TmpfsOptions != nil {
			return extra("TmpfsOptions")
		}
		if !path.IsAbs(m.Source) {
			return mountConfigError(m, fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		if bindMustExist {
			_, err := os.Stat(m.Source)
			create := m.BindOptions != nil && m.BindOptions.CreateMountpoint
			switch {
			case errors.Is(err, os.ErrNotExist):
				if !create {
					return mountConfigError(m, fmt.Errorf("bind source path does not exist: %s", m.Source))
				}
			case err != nil:
				return mountConfigError(m, err)
			}
		}
	case mount.TypeVolume:
		if m.BindOptions != nil {
			return extra("BindOptions")
		}
		if m.TmpfsOptions != nil {
			return extra("TmpfsOptions")
		}
		anonymous := m.Source == ""
		if o := m.VolumeOptions; o != nil && o.Subpath != "" {
			if anonymous {
				return mountConfigError(m, errors.New("must not set Subpath when using anonymous volumes"))
			}
			if !filepath.IsLocal(o.Subpath) {
				return mountConfigError(m, errors.New("subpath must be a relative path within the volume"))
			}
		}
		if m.ReadOnly && anonymous {
			return mountConfigError(m, errors.New("must not set ReadOnly mode when using anonymous volumes"))
		}
	case mount.TypeTmpfs:
		if m.BindOptions != nil {
			return extra("BindOptions")
		}
		if m.VolumeOptions != nil {
			return extra("VolumeOptions")
		}
		if m.Source != "" {
			return extra("Source")
		}
		if _, err := tmpfsMountOptions(m); err != nil {
			return mountConfigError(m, err)
		}
	case mount.TypeImage:
		return errdefs.Errorf(errdefs.ErrNotImplemented, "mount type %q is not supported yet", m.Type)
	default:
		return mountConfigError(m, errors.New("mount type unknown"))
	}
	return nil
}
