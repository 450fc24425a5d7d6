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
// (type, source, target, readonly, bind-*, volume-*, tmpfs-*), docker's
// syntax. The type defaults to volume.
type Mounts struct {
	values []mount.Mount
}

// Set implements pflag.Value.
func (m *Mounts) Set(value string) error {
	value = strings.TrimSpace(value)
	if value == "" {
		return errors.New("value is empty")
	}
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
	if k := strings.TrimSpace(key); k != key {
		return fmt.Errorf("invalid option '%s' in '%s': option should not have whitespace", k, field)
	}
	if hasValue {
		if v := strings.TrimSpace(val); v == "" {
			return fmt.Errorf("invalid value for '%s': value is empty", key)
		} else if v != val {
			return fmt.Errorf("invalid value for '%s' in '%s': value should not have whitespace", key, field)
		}
	}
	key = strings.ToLower(key)
	if !hasValue {
		switch key {
		case "readonly", "ro", "volume-nocopy", "bind-create-src":
		default:
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
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
		m.ReadOnly, err = mountBool(key, val, hasValue)
	case "consistency":
		m.Consistency = mount.Consistency(strings.ToLower(val))
	case "bind-propagation":
		bindOptions(m).Propagation = mount.Propagation(strings.ToLower(val))
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
	case "bind-create-src":
		bindOptions(m).CreateMountpoint, err = mountBool(key, val, hasValue)
	case "volume-subpath":
		volumeOptions(m).Subpath = val
	case "volume-nocopy":
		volumeOptions(m).NoCopy, err = mountBool(key, val, hasValue)
	case "volume-label":
		o := volumeOptions(m)
		o.Labels = setKV(o.Labels, val)
	case "volume-driver":
		volumeDriver(m).Name = val
	case "volume-opt":
		d := volumeDriver(m)
		d.Options = setKV(d.Options, val)
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
		return fmt.Errorf("unknown option '%s' in '%s'", key, field)
	}
	return err
}

// checkMount refuses options of another mount type and the read-only
// combinations docker refuses.
func checkMount(m *mount.Mount) error {
	if m.Type == "" {
		return errors.New("type is required")
	}
	if m.Type != mount.TypeBind && m.BindOptions != nil {
		return fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.Type != mount.TypeVolume && m.VolumeOptions != nil {
		return fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.Type != mount.TypeTmpfs && m.TmpfsOptions != nil {
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

func mountBool(key, val string, hasValue bool) (bool, error) {
	if !hasValue {
		return true, nil
	}
	switch val {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf(`invalid value for '%s': invalid boolean value (%q): must be one of "true", "1", "false", or "0" (default "true")`, key, val)
}

func bindOptions(m *mount.Mount) *mount.BindOptions {
	if m.BindOptions == nil {
		m.BindOptions = &mount.BindOptions{}
	}
	return m.BindOptions
}

func volumeOptions(m *mount.Mount) *mount.VolumeOptions {
	if m.VolumeOptions == nil {
		m.VolumeOptions = &mount.VolumeOptions{}
	}
	return m.VolumeOptions
}

func volumeDriver(m *mount.Mount) *mount.Driver {
	o := volumeOptions(m)
	if o.DriverConfig == nil {
		o.DriverConfig = &mount.Driver{}
	}
	return o.DriverConfig
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
