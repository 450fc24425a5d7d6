package opts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// Mounts is the repeatable --mount flag: comma-separated key=value fields
// (type, source, target, readonly, bind-*, volume-*, tmpfs-*, image-*),
// the docker CLI 28's syntax, checks and messages. The type defaults to
// volume.
type Mounts struct {
	values []mount.Mount
}

// Set implements pflag.Value.
func (m *Mounts) Set(value string) error {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	mnt := mount.Mount{Type: mount.TypeVolume}
	for _, field := range fields {
		if err := setMountField(&mnt, field); err != nil {
			return err
		}
	}
	if err := checkMount(&mnt); err != nil {
		return err
	}
	m.values = append(m.values, mnt)
	return nil
}

func setMountField(m *mount.Mount, field string) error {
	key, val, hasValue := strings.Cut(field, "=")
	key = strings.ToLower(key)
	if !hasValue {
		switch key {
		case "readonly", "ro":
			m.ReadOnly = true
		case "volume-nocopy":
			volumeOptions(m).NoCopy = true
		case "bind-nonrecursive":
			bindOptions(m).NonRecursive = true
		default:
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		return nil
	}
	var err error
	switch key {
	case "type":
		m.Type = mount.Type(strings.ToLower(val))
	case "source", "src":
		m.Source = val
		if !filepath.IsAbs(val) && strings.HasPrefix(val, ".") {
			if abs, err := filepath.Abs(val); err == nil {
				m.Source = abs
			}
		}
	case "target", "dst", "destination":
		m.Target = val
	case "readonly", "ro":
		m.ReadOnly, err = parseMountBool(key, val)
	case "consistency":
		m.Consistency = mount.Consistency(strings.ToLower(val))
	case "bind-propagation":
		bindOptions(m).Propagation = mount.Propagation(strings.ToLower(val))
	case "bind-nonrecursive":
		// Deprecated for bind-recursive=disabled; still taken.
		bindOptions(m).NonRecursive, err = parseMountBool(key, val)
	case "bind-recursive":
		switch val {
		case "enabled":
		case "disabled":
			bindOptions(m).NonRecursive = true
		case "writable":
			bindOptions(m).ReadOnlyNonRecursive = true
		case "readonly":
			bindOptions(m).ReadOnlyForceRecursive = true
		default:
			return fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
		}
	case "volume-subpath":
		volumeOptions(m).Subpath = val
	case "volume-nocopy":
		volumeOptions(m).NoCopy, err = parseMountBool(key, val)
	case "volume-label":
		o := volumeOptions(m)
		o.Labels = setKV(o.Labels, val)
	case "volume-driver":
		volumeOptions(m).DriverConfig.Name = val
	case "volume-opt":
		d := volumeOptions(m).DriverConfig
		d.Options = setKV(d.Options, val)
	case "image-subpath":
		imageOptions(m).Subpath = val
	case "tmpfs-size":
		n, perr := units.RAMInBytes(val)
		if perr != nil {
			return fmt.Errorf("invalid value for %s: %s", key, val)
		}
		tmpfsOptions(m).SizeBytes = n
	case "tmpfs-mode":
		n, perr := strconv.ParseUint(val, 8, 32)
		if perr != nil {
			return fmt.Errorf("invalid value for %s: %s", key, val)
		}
		tmpfsOptions(m).Mode = os.FileMode(n)
	default:
		return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
	}
	return err
}

// checkMount refuses a mount without type or target, options of another
// mount type and the read-only combinations docker refuses.
func checkMount(m *mount.Mount) error {
	switch {
	case m.Type == "":
		return errors.New("type is required")
	case m.Target == "":
		return errors.New("target is required")
	case m.VolumeOptions != nil && m.Type != mount.TypeVolume:
		return fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	case m.ImageOptions != nil && m.Type != mount.TypeImage:
		return fmt.Errorf("cannot mix 'image-*' options with mount type '%s'", m.Type)
	case m.BindOptions != nil && m.Type != mount.TypeBind:
		return fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	case m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs:
		return fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	if b := m.BindOptions; b != nil {
		if b.ReadOnlyNonRecursive && !m.ReadOnly {
			return errors.New("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
		}
		if b.ReadOnlyForceRecursive {
			if !m.ReadOnly {
				return errors.New("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
			}
			if b.Propagation != mount.PropagationRPrivate {
				return errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
			}
		}
	}
	return nil
}

// parseMountBool reads a boolean field as strconv.ParseBool, with
// docker's message.
func parseMountBool(key, val string) (bool, error) {
	b, err := strconv.ParseBool(val)
	if err != nil {
		return false, fmt.Errorf("invalid value for %s: %s", key, val)
	}
	return b, nil
}

func bindOptions(m *mount.Mount) *mount.BindOptions {
	if m.BindOptions == nil {
		m.BindOptions = &mount.BindOptions{}
	}
	return m.BindOptions
}

// volumeOptions makes the volume options with their driver config, as
// docker sends them (an empty DriverConfig included).
func volumeOptions(m *mount.Mount) *mount.VolumeOptions {
	if m.VolumeOptions == nil {
		m.VolumeOptions = &mount.VolumeOptions{DriverConfig: &mount.Driver{}}
	}
	return m.VolumeOptions
}

func imageOptions(m *mount.Mount) *mount.ImageOptions {
	if m.ImageOptions == nil {
		m.ImageOptions = &mount.ImageOptions{}
	}
	return m.ImageOptions
}

func tmpfsOptions(m *mount.Mount) *mount.TmpfsOptions {
	if m.TmpfsOptions == nil {
		m.TmpfsOptions = &mount.TmpfsOptions{}
	}
	return m.TmpfsOptions
}

func setKV(m map[string]string, kv string) map[string]string {
	k, v, _ := strings.Cut(kv, "=")
	if k == "" {
		return m
	}
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// String implements pflag.Value.
func (m *Mounts) String() string {
	var out []string
	for _, v := range m.values {
		out = append(out, fmt.Sprintf("%s:%s:%s", v.Type, v.Source, v.Target))
	}
	return strings.Join(out, ", ")
}

// Type implements pflag.Value.
func (*Mounts) Type() string { return "mount" }

// Values are the mounts given; nil when none.
func (m *Mounts) Values() []mount.Mount { return m.values }
