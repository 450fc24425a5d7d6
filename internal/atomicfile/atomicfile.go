// Package atomicfile replaces small files (records, state, labels) so that
// readers, and the next start after a crash, see the old content or the
// new, never a torn mix: every store writes its durable state through it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultTempPrefix starts the name of a file being written, unless
// WithTempPrefix says otherwise; a store's recovery removes such leftovers.
const DefaultTempPrefix = ".tmp-"

// Option changes how Write makes a file durable.
type Option func(*options)

type options struct {
	tempPrefix   string
	syncData     bool
	syncDir      bool
	beforeRename func()
}

// WithTempPrefix names temporary files prefix + base + random, for stores
// whose recovery looks for their own prefix.
func WithTempPrefix(prefix string) Option { return func(o *options) { o.tempPrefix = prefix } }

// WithoutDirSync skips the directory's fsync after the rename: a crash may
// then bring back the previous content (never a mix, since the data was
// synced before its name). For state that is rebuilt on the next start.
func WithoutDirSync() Option { return func(o *options) { o.syncDir = false } }

// WithoutSync skips every fsync: readers still never see a torn file, but
// after a crash the file may be the old one or empty. For state that does
// not outlive a reboot (tmpfs) or that a crash makes moot.
func WithoutSync() Option {
	return func(o *options) { o.syncData, o.syncDir = false, false }
}

// WithBeforeRename calls fn once the temporary file is complete, just
// before it replaces path: a seam for crash tests.
func WithBeforeRename(fn func()) Option { return func(o *options) { o.beforeRename = fn } }

// Write replaces path with data: a temporary file in the same directory,
// written, chmod'ed to perm and fsynced, renamed over path, then the
// directory fsynced so the rename itself survives a crash. On any error (a
// full disk included) path keeps its old content and the temporary file
// is gone.
func Write(path string, data []byte, perm os.FileMode, opts ...Option) (err error) {
	o := options{tempPrefix: DefaultTempPrefix, syncData: true, syncDir: true}
	for _, opt := range opts {
		opt(&o)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, o.tempPrefix+base+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if o.syncData {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if o.beforeRename != nil {
		o.beforeRename()
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if !o.syncDir {
		return nil
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making the names in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
