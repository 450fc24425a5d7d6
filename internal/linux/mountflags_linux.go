package linux

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Flags and attributes by name, so that an error says what was asked for
// without a lookup in the headers.

// flagName names one bit (or bit group) of a flags word.
type flagName[T ~uintptr | ~uint64 | ~int] struct {
	flag T
	name string
}

var msNames = []flagName[uintptr]{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_MANDLOCK, "MS_MANDLOCK"}, {unix.MS_DIRSYNC, "MS_DIRSYNC"}, {unix.MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"},
	{unix.MS_NOATIME, "MS_NOATIME"}, {unix.MS_NODIRATIME, "MS_NODIRATIME"}, {unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"}, {unix.MS_REC, "MS_REC"}, {unix.MS_SILENT, "MS_SILENT"},
	{unix.MS_POSIXACL, "MS_POSIXACL"}, {unix.MS_UNBINDABLE, "MS_UNBINDABLE"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_SHARED, "MS_SHARED"}, {unix.MS_RELATIME, "MS_RELATIME"},
	{unix.MS_I_VERSION, "MS_I_VERSION"}, {unix.MS_STRICTATIME, "MS_STRICTATIME"}, {unix.MS_LAZYTIME, "MS_LAZYTIME"},
}

var attrNames = []flagName[uint64]{
	{unix.MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"}, {unix.MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
	{unix.MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"}, {unix.MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"},
	{unix.MOUNT_ATTR_NOATIME, "MOUNT_ATTR_NOATIME"}, {unix.MOUNT_ATTR_STRICTATIME, "MOUNT_ATTR_STRICTATIME"},
	{unix.MOUNT_ATTR_NODIRATIME, "MOUNT_ATTR_NODIRATIME"}, {unix.MOUNT_ATTR_IDMAP, "MOUNT_ATTR_IDMAP"},
	{unix.MOUNT_ATTR_NOSYMFOLLOW, "MOUNT_ATTR_NOSYMFOLLOW"},
}

var umountNames = []flagName[int]{
	{unix.MNT_FORCE, "MNT_FORCE"}, {unix.MNT_DETACH, "MNT_DETACH"},
	{unix.MNT_EXPIRE, "MNT_EXPIRE"}, {unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"},
}

// MountFlagNames renders mount(2) flags as "MS_BIND|MS_REC".
func MountFlagNames(flags uintptr) string { return names(flags, msNames) }

// MountAttrNames renders mount_setattr(2) attributes by name;
// MOUNT_ATTR_RELATIME is 0, so it shows as the absence of the other atime
// names.
func MountAttrNames(attr uint64) string { return names(attr, attrNames) }

// UnmountFlagNames renders umount2(2) flags by name.
func UnmountFlagNames(flags int) string { return names(flags, umountNames) }

// names joins the names of v's bits with "|", unknown bits in hex last,
// and "0" for none.
func names[T ~uintptr | ~uint64 | ~int](v T, table []flagName[T]) string {
	var out []string
	for _, n := range table {
		if v&n.flag != 0 {
			out = append(out, n.name)
			v &^= n.flag
		}
	}
	if v != 0 {
		out = append(out, "0x"+strconv.FormatUint(uint64(v), 16))
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, "|")
}
