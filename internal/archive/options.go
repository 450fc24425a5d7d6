package archive

import (
	"archive/tar"
	"fmt"

	"github.com/berth-project/berth/internal/errdefs"
)

// ErrInvalidArchive is the class of every rejection of a layer's content:
// a path that leaves the root, a link that escapes, a malformed header, a
// size past the limit, a refused device node. It is an
// errdefs.ErrInvalidParameter, so the API reports it as a 400.
var ErrInvalidArchive = fmt.Errorf("invalid layer archive: %w", errdefs.ErrInvalidParameter)

// ErrBreakout is the kind of ErrInvalidArchive for an entry that would
// reach outside the root: "..", a write through a symlink this layer
// made, a relative symlink or hard link that climbs out.
var ErrBreakout = fmt.Errorf("path escapes the root: %w", ErrInvalidArchive)

// WhiteoutMode says how Apply turns whiteout entries into files.
type WhiteoutMode int

const (
	// WhiteoutDelete removes what a whiteout names, for a root that holds
	// the merged tree (plain copy snapshots, flattening).
	WhiteoutDelete WhiteoutMode = iota
	// WhiteoutOverlay writes overlayfs whiteouts, for a root that is an
	// overlay upper directory.
	WhiteoutOverlay
)

// DevicePolicy says what Apply does with character and block devices.
// FIFOs are not devices and are always made.
type DevicePolicy int

const (
	// DevicesAllow makes device nodes with mknod (this needs
	// CAP_MKNOD, so root).
	DevicesAllow DevicePolicy = iota
	// DevicesDeny rejects a layer holding a device node, with
	// errdefs.ErrForbidden.
	DevicesDeny
	// DevicesSkip leaves device nodes out and goes on (rootless engines,
	// which cannot make them).
	DevicesSkip
)

// Filter decides, for each entry, whether Apply extracts it (true) or
// skips it (false); an error stops Apply. hdr.Name is already cleaned:
// relative, no leading "/", no "..". Filter must not keep hdr.
type Filter func(hdr *tar.Header) (bool, error)

type applyOptions struct {
	whiteouts    WhiteoutMode
	noSameOwner  bool
	sizeLimit    int64 // 0: none
	filter       Filter
	progress     func(int64)
	devices      DevicePolicy
	strictXattrs bool
}

// ApplyOpt is an option of Apply.
type ApplyOpt func(*applyOptions) error

// WithOverlayWhiteouts makes Apply write overlayfs whiteouts: root is an
// overlay upper directory, ".wh.NAME" becomes the character device 0/0
// NAME and ".wh..wh..opq" sets trusted.overlay.opaque="y" on its
// directory. Nothing of the lower layers is touched.
func WithOverlayWhiteouts() ApplyOpt {
	return func(o *applyOptions) error { o.whiteouts = WhiteoutOverlay; return nil }
}

// WithDeleteWhiteouts (the default) makes Apply carry whiteouts out on
// the merged tree: ".wh.NAME" removes NAME, ".wh..wh..opq" removes the
// children of its directory that did not come from this same layer.
func WithDeleteWhiteouts() ApplyOpt {
	return func(o *applyOptions) error { o.whiteouts = WhiteoutDelete; return nil }
}

// WithNoSameOwner keeps files owned by the caller instead of the owners
// the archive names (rootless; tar's --no-same-owner). Xattrs the caller
// may not set (trusted.*, security.*) are then skipped, not errors.
func WithNoSameOwner() ApplyOpt {
	return func(o *applyOptions) error { o.noSameOwner = true; return nil }
}

// WithSizeLimit rejects a layer whose uncompressed tar stream is longer
// than limit bytes; an entry whose declared size would pass the limit is
// rejected before anything of it is written.
func WithSizeLimit(limit int64) ApplyOpt {
	return func(o *applyOptions) error {
		if limit <= 0 {
			return fmt.Errorf("archive: size limit %d: must be positive: %w", limit, errdefs.ErrInvalidParameter)
		}
		o.sizeLimit = limit
		return nil
	}
}

// WithFilter extracts only the entries f accepts.
func WithFilter(f Filter) ApplyOpt {
	return func(o *applyOptions) error { o.filter = f; return nil }
}

// WithProgress calls fn after each entry with the number of bytes of the
// uncompressed stream read so far.
func WithProgress(fn func(n int64)) ApplyOpt {
	return func(o *applyOptions) error { o.progress = fn; return nil }
}

// WithDevicePolicy sets what Apply does with device nodes (default
// DevicesAllow).
func WithDevicePolicy(p DevicePolicy) ApplyOpt {
	return func(o *applyOptions) error {
		if p < DevicesAllow || p > DevicesSkip {
			return fmt.Errorf("archive: device policy %d: %w", p, errdefs.ErrInvalidParameter)
		}
		o.devices = p
		return nil
	}
}

// WithStrictXattrs makes an xattr the target filesystem does not support
// an error. By default such xattrs are skipped, as docker does, since not
// every filesystem under a snapshot supports every namespace.
func WithStrictXattrs() ApplyOpt {
	return func(o *applyOptions) error { o.strictXattrs = true; return nil }
}

// makeApplyOptions holds every default of Apply.
func makeApplyOptions(opts []ApplyOpt) (applyOptions, error) {
	o := applyOptions{whiteouts: WhiteoutDelete, devices: DevicesAllow}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

type diffOptions struct {
	overlay bool
}

// DiffOpt is an option of WriteDiff and Changes.
type DiffOpt func(*diffOptions) error

// WithOverlayUpper says upper is an overlay upper directory: its content is
// the change, its character devices 0/0 are deletions and its opaque
// directories hide all of lower. lower is then read only to tell an
// addition from a modification (Changes) and to list what an opaque
// directory hides; it may be "".
//
// The overlay must have been mounted without redirect_dir and metacopy:
// an upper that uses them does not hold the whole change, and WriteDiff
// refuses it (errdefs.ErrNotImplemented).
func WithOverlayUpper() DiffOpt {
	return func(o *diffOptions) error { o.overlay = true; return nil }
}

func makeDiffOptions(opts []DiffOpt) (diffOptions, error) {
	var o diffOptions
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

type tarOptions struct{}

// TarOpt is an option of WriteTar. There are none yet; the type keeps the
// signature stable.
type TarOpt func(*tarOptions) error

func makeTarOptions(opts []TarOpt) (tarOptions, error) {
	var o tarOptions
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// invalid wraps a rejection of entry name with ErrInvalidArchive.
func invalid(name string, format string, args ...any) error {
	return fmt.Errorf("entry %q: %s: %w", name, fmt.Sprintf(format, args...), ErrInvalidArchive)
}

// breakout wraps an escape attempt of entry name with ErrBreakout.
func breakout(name string, format string, args ...any) error {
	return fmt.Errorf("entry %q: %s: %w", name, fmt.Sprintf(format, args...), ErrBreakout)
}
