package runtime

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is a spec mount's options sorted into what each syscall needs.
type mountOptions struct {
	flags       uintptr // mount(2) flags
	propagation []uintptr
	// attrSet and attrClr are mount_setattr(2) attributes applied
	// recursively, for the "r"-prefixed options (rro, rnosuid, ...).
	attrSet, attrClr uint64
	idmap            bool
	recursiveIDMap   bool
	data             []string // everything else, passed to the filesystem
}

type flagOption struct {
	clear bool
	flag  uintptr
}

var mountFlagOptions = table[string, flagOption]{
	{"acl", flagOption{false, unix.MS_POSIXACL}},
	{"async", flagOption{true, unix.MS_SYNCHRONOUS}},
	{"atime", flagOption{true, unix.MS_NOATIME}},
	{"bind", flagOption{false, unix.MS_BIND}},
	{"defaults", flagOption{false, 0}},
	{"dev", flagOption{true, unix.MS_NODEV}},
	{"diratime", flagOption{true, unix.MS_NODIRATIME}},
	{"dirsync", flagOption{false, unix.MS_DIRSYNC}},
	{"exec", flagOption{true, unix.MS_NOEXEC}},
	{"iversion", flagOption{false, unix.MS_I_VERSION}},
	{"lazytime", flagOption{false, unix.MS_LAZYTIME}},
	{"loud", flagOption{true, unix.MS_SILENT}},
	{"mand", flagOption{false, unix.MS_MANDLOCK}},
	{"noacl", flagOption{true, unix.MS_POSIXACL}},
	{"noatime", flagOption{false, unix.MS_NOATIME}},
	{"nodev", flagOption{false, unix.MS_NODEV}},
	{"nodiratime", flagOption{false, unix.MS_NODIRATIME}},
	{"noexec", flagOption{false, unix.MS_NOEXEC}},
	{"noiversion", flagOption{true, unix.MS_I_VERSION}},
	{"nolazytime", flagOption{true, unix.MS_LAZYTIME}},
	{"nomand", flagOption{true, unix.MS_MANDLOCK}},
	{"norelatime", flagOption{true, unix.MS_RELATIME}},
	{"nostrictatime", flagOption{true, unix.MS_STRICTATIME}},
	{"nosuid", flagOption{false, unix.MS_NOSUID}},
	{"nosymfollow", flagOption{false, unix.MS_NOSYMFOLLOW}},
	{"rbind", flagOption{false, unix.MS_BIND | unix.MS_REC}},
	{"relatime", flagOption{false, unix.MS_RELATIME}},
	{"remount", flagOption{false, unix.MS_REMOUNT}},
	{"ro", flagOption{false, unix.MS_RDONLY}},
	{"rw", flagOption{true, unix.MS_RDONLY}},
	{"silent", flagOption{false, unix.MS_SILENT}},
	{"strictatime", flagOption{false, unix.MS_STRICTATIME}},
	{"suid", flagOption{true, unix.MS_NOSUID}},
	{"symfollow", flagOption{true, unix.MS_NOSYMFOLLOW}},
	{"sync", flagOption{false, unix.MS_SYNCHRONOUS}},
}

var propagationOptions = table[string, uintptr]{
	{"private", unix.MS_PRIVATE},
	{"rprivate", unix.MS_PRIVATE | unix.MS_REC},
	{"shared", unix.MS_SHARED},
	{"rshared", unix.MS_SHARED | unix.MS_REC},
	{"slave", unix.MS_SLAVE},
	{"rslave", unix.MS_SLAVE | unix.MS_REC},
	{"unbindable", unix.MS_UNBINDABLE},
	{"runbindable", unix.MS_UNBINDABLE | unix.MS_REC},
}

type attrOption struct {
	clear bool
	attr  uint64
}

var recursiveAttrOptions = table[string, attrOption]{
	{"rro", attrOption{false, unix.MOUNT_ATTR_RDONLY}},
	{"rrw", attrOption{true, unix.MOUNT_ATTR_RDONLY}},
	{"rnosuid", attrOption{false, unix.MOUNT_ATTR_NOSUID}},
	{"rsuid", attrOption{true, unix.MOUNT_ATTR_NOSUID}},
	{"rnodev", attrOption{false, unix.MOUNT_ATTR_NODEV}},
	{"rdev", attrOption{true, unix.MOUNT_ATTR_NODEV}},
	{"rnoexec", attrOption{false, unix.MOUNT_ATTR_NOEXEC}},
	{"rexec", attrOption{true, unix.MOUNT_ATTR_NOEXEC}},
	{"rnodiratime", attrOption{false, unix.MOUNT_ATTR_NODIRATIME}},
	{"rdiratime", attrOption{true, unix.MOUNT_ATTR_NODIRATIME}},
	{"rrelatime", attrOption{false, unix.MOUNT_ATTR_RELATIME}},
	{"rnorelatime", attrOption{true, unix.MOUNT_ATTR_RELATIME}},
	{"rnoatime", attrOption{false, unix.MOUNT_ATTR_NOATIME}},
	{"ratime", attrOption{true, unix.MOUNT_ATTR_NOATIME}},
	{"rstrictatime", attrOption{false, unix.MOUNT_ATTR_STRICTATIME}},
	{"rnostrictatime", attrOption{true, unix.MOUNT_ATTR_STRICTATIME}},
	{"rnosymfollow", attrOption{false, unix.MOUNT_ATTR_NOSYMFOLLOW}},
	{"rsymfollow", attrOption{true, unix.MOUNT_ATTR_NOSYMFOLLOW}},
}

// parseMountOptions sorts options; anything unknown is filesystem data,
// as mount(8) treats it.
func parseMountOptions(options []string) mountOptions {
	var m mountOptions
	for _, o := range options {
		if f, ok := mountFlagOptions.lookup(o); ok {
			if f.clear {
				m.flags &^= f.flag
			} else {
				m.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationOptions.lookup(o); ok {
			m.propagation = append(m.propagation, p)
			continue
		}
		if a, ok := recursiveAttrOptions.lookup(o); ok {
			if a.clear {
				m.attrClr |= a.attr
				m.attrSet &^= a.attr
			} else {
				m.attrSet |= a.attr
				m.attrClr &^= a.attr
			}
			continue
		}
		switch o {
		case "idmap":
			m.idmap = true
			continue
		case "ridmap":
			m.idmap, m.recursiveIDMap = true, true
			continue
		}
		m.data = append(m.data, o)
	}
	return m
}

func (m mountOptions) isBind() bool { return m.flags&unix.MS_BIND != 0 }

func (m mountOptions) dataString() string { return strings.Join(m.data, ",") }
