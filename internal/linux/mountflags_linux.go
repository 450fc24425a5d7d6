package linux

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Flags and attributes by name, so that an error says what was asked for
// without a lookup in the headers.

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

// MountFlagNames renders mount(2) flags as "MS_BIND|MS_REC", so an error says
// what was asked for without a lookup in the headers.
func MountFlagNames(flags uintptr) string {
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

// MountAttrNames renders mount_setattr(2) attributes by name; MOUNT_ATTR_RELATIME is 0,
// so it shows as the absence of the other atime names.
func MountAttrNames(attr uint64) string {
	var names []string
	for _, n := range attrNames {
		if attr&n.attr != 0 {
			names = append(names, n.name)
			attr &^= n.attr
		}
	}
	return joinNames(names, attr)
}

// UnmountFlagNames renders umount2(2) flags by name.
func UnmountFlagNames(flags int) string {
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
