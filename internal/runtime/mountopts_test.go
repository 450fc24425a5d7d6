package runtime

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	m := parseMountOptions([]string{"rbind", "ro", "nosuid", "rw", "rslave", "mode=755", "size=1k", "rro", "rrw", "rnoexec"})
	if want := uintptr(unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID); m.flags != want {
		t.Errorf("flags = %s, want %s (rw after ro clears it)", mountFlagNames(m.flags), mountFlagNames(want))
	}
	if !reflect.DeepEqual(m.propagation, []uintptr{unix.MS_SLAVE | unix.MS_REC}) {
		t.Errorf("propagation = %v", m.propagation)
	}
	if m.dataString() != "mode=755,size=1k" {
		t.Errorf("data = %q", m.dataString())
	}
	if m.attrSet != unix.MOUNT_ATTR_NOEXEC || m.attrClr != unix.MOUNT_ATTR_RDONLY {
		t.Errorf("attrs set %#x clr %#x: the later rrw must undo rro", m.attrSet, m.attrClr)
	}
	if !m.isBind() {
		t.Error("rbind is a bind")
	}
	if got := parseMountOptions([]string{"idmap"}); !got.idmap || got.recursiveIDMap {
		t.Error("idmap")
	}
}

func TestMountFlagNames(t *testing.T) {
	if got := mountFlagNames(unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY); got != "MS_RDONLY|MS_BIND|MS_REC" {
		t.Errorf("got %q", got)
	}
	if got := mountFlagNames(0); got != "0" {
		t.Errorf("got %q", got)
	}
	if got := mountFlagNames(1 << 30); got != "0x40000000" {
		t.Errorf("unknown bits: got %q", got)
	}
}
