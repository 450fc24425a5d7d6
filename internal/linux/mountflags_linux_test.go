package linux

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestFlagNames(t *testing.T) {
	for _, tc := range []struct {
		flags uintptr
		want  string
	}{
		{0, "0"},
		{unix.MS_BIND | unix.MS_REC, "MS_BIND|MS_REC"},
		{unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, "MS_RDONLY|MS_BIND|MS_REC"},
		{1 << 30, "0x40000000"},
		{unix.MS_RDONLY | unix.MS_NOSUID | 1<<40, "MS_RDONLY|MS_NOSUID|0x10000000000"},
	} {
		if got := MountFlagNames(tc.flags); got != tc.want {
			t.Errorf("MountFlagNames(%#x) = %q, want %q", tc.flags, got, tc.want)
		}
	}
	if got, want := UnmountFlagNames(unix.MNT_DETACH), "MNT_DETACH"; got != want {
		t.Errorf("UnmountFlagNames = %q, want %q", got, want)
	}
	if got, want := MountAttrNames(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID), "MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID"; got != want {
		t.Errorf("MountAttrNames = %q, want %q", got, want)
	}
}
