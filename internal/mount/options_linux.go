package mount

import (
	"strings"

	"golang.org/x/sys/unix"
)

// options is a Mount's options sorted by the call that consumes them.
type options struct {
	flags       uintptr   // mount(2) flags, MS_BIND and MS_REC included
	propagation []uintptr // applied one by one after the mount, in order
	data        []string  // filesystem options, in order
}

// flagOption is a mount(8) flag name: setting or clearing one MS_ bit.
type flagOption struct {
	flag  uintptr
	clear bool
}

// flagOptions are the names mount(8) turns into flags instead of data.
// "defaults" is a no-op, as in fstab.
var flagOptions = map[string]flagOption{
	"defaults":      {0, false},
	"ro":            {unix.MS_RDONLY, false},
	"rw":            {unix.MS_RDONLY, true},
	"nosuid":        {unix.MS_NOSUID, false},
	"suid":          {unix.MS_NOSUID, true},
	"nodev":         {unix.MS_NODEV, false},
	"dev":           {unix.MS_NODEV, true},
	"noexec":        {unix.MS_NOEXEC, false},
	"exec":          {unix.MS_NOEXEC, true},
	"sync":          {unix.MS_SYNCHRONOUS, false},
	"async":         {unix.MS_SYNCHRONOUS, true},
	"dirsync":       {unix.MS_DIRSYNC, false},
	"mand":          {unix.MS_MANDLOCK, false},
	"nomand":        {unix.MS_MANDLOCK, true},
	"noatime":       {unix.MS_NOATIME, false},
	"atime":         {unix.MS_NOATIME, true},
	"nodiratime":    {unix.MS_NODIRATIME, false},
	"diratime":      {unix.MS_NODIRATIME, true},
	"relatime":      {unix.MS_RELATIME, false},
	"norelatime":    {unix.MS_RELATIME, true},
	"strictatime":   {unix.MS_STRICTATIME, false},
	"nostrictatime": {unix.MS_STRICTATIME, true},
	"lazytime":      {unix.MS_LAZYTIME, false},
	"nolazytime":    {unix.MS_LAZYTIME, true},
	"nosymfollow":   {unix.MS_NOSYMFOLLOW, false},
	"symfollow":     {unix.MS_NOSYMFOLLOW, true},
	"silent":        {unix.MS_SILENT, false},
	"loud":          {unix.MS_SILENT, true},
	"bind":          {unix.MS_BIND, false},
	"rbind":         {unix.MS_BIND | unix.MS_REC, false},
	"remount":       {unix.MS_REMOUNT, false},
}

// propagationOptions change a mount's propagation type, which mount(2)
// only accepts in a call of its own.
var propagationOptions = map[string]uintptr{
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

func parseOptions(opts []string) options {
	var o options
	for _, s := range opts {
		if f, ok := flagOptions[s]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[s]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		o.data = append(o.data, s)
	}
	return o
}

// perMountFlags are the flags that belong to a mount rather than to its
// superblock: the ones a bind mount can change, by remount or by
// mount_setattr.
const perMountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NOSYMFOLLOW

// mountAttr turns per-mount flags into mount_setattr/fsmount attributes.
// The atime flags are one field in the new API (MOUNT_ATTR__ATIME): a
// mount asking for none of them keeps relatime, as mount(2) would.
func mountAttr(flags uintptr) (set uint64) {
	for _, m := range [...]struct {
		flag uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
		{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
	} {
		if flags&m.flag != 0 {
			set |= m.attr
		}
	}
	switch {
	case flags&unix.MS_NOATIME != 0:
		set |= unix.MOUNT_ATTR_NOATIME
	case flags&unix.MS_STRICTATIME != 0:
		set |= unix.MOUNT_ATTR_STRICTATIME
	default:
		set |= unix.MOUNT_ATTR_RELATIME
	}
	return set
}

// splitLowerdir splits an overlay lowerdir value into its layers, top
// first, as overlayfs does: layers are separated by ':', "\:" is a colon
// inside a path, and "::" starts the data-only layers (which the new
// mount API calls "datadir+").
func splitLowerdir(v string) (lower, data []string) {
	var (
		cur      strings.Builder
		dataOnly bool
	)
	flush := func() {
		if dataOnly {
			data = append(data, cur.String())
		} else {
			lower = append(lower, cur.String())
		}
		cur.Reset()
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case c == ':':
			flush()
			if i+1 < len(v) && v[i+1] == ':' {
				dataOnly = true
				i++
			}
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return lower, data
}
