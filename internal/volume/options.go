package volume

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/linux"
	"github.com/berth-project/berth/internal/mount"
)

// The local driver's options, as docker's: with none, a volume is a plain
// directory; with type and device, _data gets mount(2) of device with
// that filesystem type and the o= options.
const (
	optType   = "type"
	optDevice = "device"
	optO      = "o"
	// optSize is docker's quota option, which only works on xfs with
	// project quotas; Berth has no quota support, so it is refused as
	// docker refuses it on other filesystems.
	optSize = "size"
)

var knownOptions = map[string]bool{optType: true, optDevice: true, optO: true, optSize: true}

// requiredOptions: each option needs the ones listed, checked in this
// order so the error is stable.
var requiredOptions = []struct {
	opt   string
	needs []string
}{
	{optDevice, []string{optType}},
	{optType, []string{optDevice}},
	{optO, []string{optDevice, optType}},
}

// validateOptions checks the local driver's options before anything is
// created, with docker's messages.
func validateOptions(name string, opts map[string]string) error {
	for _, check := range []func(map[string]string) error{
		checkKnownOptions, checkSize, checkRequiredOptions, checkCIFSDevice,
	} {
		if err := check(opts); err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidParameter, "create %s: %w", name, err)
		}
	}
	return nil
}

func checkKnownOptions(opts map[string]string) error {
	for _, k := range sortedKeys(opts) {
		if !knownOptions[k] {
			return fmt.Errorf("invalid option: %q", k)
		}
	}
	return nil
}

func checkSize(opts map[string]string) error {
	if _, ok := opts[optSize]; ok {
		return fmt.Errorf("quota size requested but no quota support")
	}
	return nil
}

func checkRequiredOptions(opts map[string]string) error {
	for _, r := range requiredOptions {
		if _, ok := opts[r.opt]; !ok {
			continue
		}
		for _, need := range r.needs {
			if _, ok := opts[need]; !ok {
				return fmt.Errorf("missing required option: %q", need)
			}
		}
	}
	return nil
}

// checkCIFSDevice: a CIFS port goes in o= (port=), never in the device
// URL, which mount.cifs would not understand.
func checkCIFSDevice(opts map[string]string) error {
	if opts[optType] != "cifs" || opts[optDevice] == "" {
		return nil
	}
	u, err := url.Parse(opts[optDevice])
	if err != nil {
		return fmt.Errorf("error parsing mount device url: %w", err)
	}
	if u.Port() != "" {
		return fmt.Errorf("port not allowed in CIFS device URL, include 'port' in 'o='")
	}
	return nil
}

// needsMount reports whether a volume with opts is a mount rather than a
// plain directory.
func needsMount(opts map[string]string) bool {
	return opts[optType] != "" || opts[optDevice] != ""
}

// resolver looks up host names for network filesystems; a seam for tests.
type resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// mountFor turns a volume's options into the mount of its device. o= is
// split at commas; internal/mount sorts mount(8) flag names (ro, nosuid,
// bind, ...) from filesystem data (size=, mode=, addr=, ...), as docker's
// mount call does. For nfs and cifs, a host name in addr= (or in a cifs
// device URL) is resolved first, because the kernel takes addresses only.
func mountFor(ctx context.Context, res resolver, opts map[string]string) (mount.Mount, error) {
	device, typ := opts[optDevice], opts[optType]
	if device == "" {
		return mount.Mount{}, fmt.Errorf("missing device in volume options")
	}
	var o []string
	for p := range strings.SplitSeq(opts[optO], ",") {
		if p != "" {
			o = append(o, p)
		}
	}
	if typ == "nfs" || typ == "cifs" {
		for i, p := range o {
			addr, ok := strings.CutPrefix(p, "addr=")
			if !ok || addr == "" || net.ParseIP(addr) != nil {
				continue
			}
			ip, err := lookup(ctx, res, addr)
			if err != nil {
				return mount.Mount{}, err
			}
			o[i] = "addr=" + ip
		}
		if typ == "cifs" {
			u, err := url.Parse(device)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("error parsing mount device url: %w", err)
			}
			if u.Host != "" && net.ParseIP(u.Hostname()) == nil {
				ip, err := lookup(ctx, res, u.Hostname())
				if err != nil {
					return mount.Mount{}, err
				}
				u.Host = ip
				if device, err = url.PathUnescape(u.String()); err != nil {
					return mount.Mount{}, fmt.Errorf("failed to unescape device URL: %q", u)
				}
			}
		}
	}
	return mount.Mount{Type: typ, Source: device, Options: o}, nil
}

func lookup(ctx context.Context, res resolver, host string) (string, error) {
	addrs, err := res.LookupIPAddr(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no address for %s", host)
	}
	if err != nil {
		return "", fmt.Errorf("error resolving passed in network volume address: %w", err)
	}
	return addrs[0].IP.String(), nil
}

// maskedError is an error message with a password hidden; it unwraps to
// the system call's errno only, so the password is not reachable through
// it either.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// maskPassword hides a password= option (cifs) in a mount error, which
// shows the filesystem data it was given.
func maskPassword(err error, o string) error {
	for p := range strings.SplitSeq(o, ",") {
		if pw, ok := strings.CutPrefix(p, "password="); ok && pw != "" {
			inner := err
			var me *linux.MountError
			if errors.As(err, &me) {
				inner = me.Err
			}
			return &maskedError{msg: strings.ReplaceAll(err.Error(), "password="+pw, "password=********"), err: inner}
		}
	}
	return err
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
