package mount

import (
	"strconv"
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

var msNames = [...]struct {
	flag uintptr
	name string
}{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_MANDLOCK, "MS_MANDLOCK"}, {unix.MS_DIRSYNC, "MS_DIRSYNC"}, {unix.MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"},
	{unix.MS_NOATIME, "MS_NOATIME"}, {unix.MS_NODIRATIME, "MS_NODIRATIME"}, {unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"}, {unix.MS_REC, "MS_REC"}, {unix.MS_SILENT, "MS_SILENT"},
	{unix.MS_POSIXACL, "MS_POSIXACL"}, {unix.MS_UNBINDABLE, "MS_UNBINDABLE"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_SHARED, "MS_SHARED"}, {unix.MS_RELATIME, "MS_RELATIME"},
	{unix.MS_I_VERSION, "MS_I_VERSION"}, {unix.MS_STRICTATIME, "MS_STRICTATIME"}, {unix.MS_LAZYTIME, "MS_LAZYTIME"},
}

// flagNames renders mount(2) flags as "MS_BIND|MS_REC", so an error says
// what was asked for without a lookup in the headers.
func flagNames(flags uintptr) string {
	var names []string
	for _, n := range msNames {
		if flags&n.flag != 0 {
			names = append(names, n.name)
			flags &^= n.flag
		}
	}
	return joinNames(names, uint64(flags))
}

var attrNames = [...]struct {
	attr uint64
	name string
}{
	{unix.MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"}, {unix.MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
	{unix.MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"}, {unix.MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"},
	{unix.MOUNT_ATTR_NOATIME, "MOUNT_ATTR_NOATIME"}, {unix.MOUNT_ATTR_STRICTATIME, "MOUNT_ATTR_STRICTATIME"},
	{unix.MOUNT_ATTR_NODIRATIME, "MOUNT_ATTR_NODIRATIME"}, {unix.MOUNT_ATTR_IDMAP, "MOUNT_ATTR_IDMAP"},
	{unix.MOUNT_ATTR_NOSYMFOLLOW, "MOUNT_ATTR_NOSYMFOLLOW"},
}

// attrString renders mount attributes by name; MOUNT_ATTR_RELATIME is 0,
// so it shows as the absence of the other atime names.
func attrString(attr uint64) string {
	var names []string
	for _, n := range attrNames {
		if attr&n.attr != 0 {
			names = append(names, n.name)
			attr &^= n.attr
		}
	}
	return joinNames(names, attr)
}

// umountFlagNames renders umount2(2) flags by name.
func umountFlagNames(flags int) string {
	var names []string
	for _, n := range [...]struct {
		flag int
		name string
	}{
		{unix.MNT_FORCE, "MNT_FORCE"}, {unix.MNT_DETACH, "MNT_DETACH"},
		{unix.MNT_EXPIRE, "MNT_EXPIRE"}, {unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"},
	} {
		if flags&n.flag != 0 {
			names = append(names, n.name)
			flags &^= n.flag
		}
	}
	return joinNames(names, uint64(flags))
}

func joinNames(names []string, rest uint64) string {
	if rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(rest, 16))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
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
