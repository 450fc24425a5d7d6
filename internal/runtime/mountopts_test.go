package runtime

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/linux"
)

func TestParseMountOptions(t *testing.T) {
	m := parseMountOptions([]string{"rbind", "ro", "nosuid", "rw", "rslave", "mode=755", "size=1k", "rro", "rrw", "rnoexec"})
	if want := uintptr(unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID); m.flags != want {
		t.Errorf("flags = %s, want %s (rw after ro clears it)", linux.MountFlagNames(m.flags), linux.MountFlagNames(want))
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
