package server

import "golang.org/x/sys/unix"

// hostCgroupUnified reports whether /sys/fs/cgroup is a cgroup2 mount
// (v2 only); hybrid and v1 hosts mount a tmpfs there.
func hostCgroupUnified() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return false
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
}
