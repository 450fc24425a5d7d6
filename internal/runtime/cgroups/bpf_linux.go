package cgroups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The few bpf(2) commands the device filter needs, called directly. The
// attribute structs are the kernel's union bpf_attr members, cut after the
// last field we set: the kernel reads only the size we pass and treats
// the rest as zero (include/uapi/linux/bpf.h; bpf_test.go checks
// the offsets).

// bpfPtr is a pointer field of an attribute, a __u64. It is made of
// unsafe.Pointers so that the garbage collector keeps what it points at
// alive (and moves it along, on a stack) until the call: one on 64-bit
// hosts, and on 32-bit ones two, the address in the low half and nil in
// the high one.
type bpfPtr [8 / unsafe.Sizeof(uintptr(0))]unsafe.Pointer

func ptr(p unsafe.Pointer) bpfPtr {
	var b bpfPtr
	// The host's byte order says where a 32-bit address goes.
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		b[0] = p
	} else {
		b[len(b)-1] = p
	}
	return b
}

func ptrTo(b []byte) bpfPtr {
	if len(b) == 0 {
		return bpfPtr{}
	}
	return ptr(unsafe.Pointer(&b[0]))
}

// progLoadAttr is BPF_PROG_LOAD's.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              bpfPtr
	license            bpfPtr
	logLevel           uint32
	logSize            uint32
	logBuf             bpfPtr
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// progAttachAttr is BPF_PROG_ATTACH's and BPF_PROG_DETACH's.
type progAttachAttr struct {
	targetFD     uint32
	attachBPFFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBPFFD uint32 // with BPF_F_REPLACE (Linux 5.6)
}

// progQueryAttr is BPF_PROG_QUERY's.
type progQueryAttr struct {
	targetFD    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     bpfPtr
	progCnt     uint32
	_           uint32
}

// getIDAttr is BPF_PROG_GET_FD_BY_ID's.
type getIDAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

// objInfoAttr is BPF_OBJ_GET_INFO_BY_FD's.
type objInfoAttr struct {
	bpfFD   uint32
	infoLen uint32
	info    bpfPtr
}

// progInfo is struct bpf_prog_info up to the program's name, all we read.
type progInfo struct {
	typ             uint32
	id              uint32
	tag             [8]byte
	jitedProgLen    uint32
	xlatedProgLen   uint32
	jitedProgInsns  uint64
	xlatedProgInsns uint64
	loadTime        uint64
	createdByUID    uint32
	nrMapIDs        uint32
	mapIDs          uint64
	name            [unix.BPF_OBJ_NAME_LEN]byte
}

// bpfCall makes one bpf(2) call, again when interrupted. The attribute's
// address is converted in the call expression itself, the one place the
// compiler keeps the attribute (and what its bpfPtr fields point at)
// alive and in place until the kernel is done with it.
func bpfCall(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	for {
		r, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
}

// progLoad is BPF_PROG_LOAD, which fails with EAGAIN when a signal
// interrupted the verifier: tried a few times, as libbpf does.
func progLoad(attr *progLoadAttr) (int, error) {
	var err error
	for range 5 {
		var fd int
		fd, err = bpfCall(unix.BPF_PROG_LOAD, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
		if err != unix.EAGAIN {
			return fd, err
		}
	}
	return -1, err
}

// verifierLogSize bounds the log asked for after a failed load: the
// device filter's log is a few lines per instruction.
const verifierLogSize = 256 << 10

// loadDeviceProgram loads code as a BPF_PROG_TYPE_CGROUP_DEVICE program
// named name and returns its descriptor. When the kernel refuses it, the
// load is repeated with the verifier's log, which goes into the error.
func loadDeviceProgram(code []byte, name string) (int, error) {
	license := []byte("Apache-2.0\x00")
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(code) / bpfInsnLen),
		insns:    ptrTo(code),
		license:  ptrTo(license),
	}
	copy(attr.progName[:unix.BPF_OBJ_NAME_LEN-1], name)
	fd, err := progLoad(&attr)
	if err == nil {
		return fd, nil
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
		// No privilege, or no bpf(2): the log would not say more.
		return -1, fmt.Errorf("BPF_PROG_LOAD: %w", err)
	}
	// Load again for the log only now: asking for it up front makes
	// every successful load pay for the verifier's printing.
	log := make([]byte, verifierLogSize)
	attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), ptrTo(log)
	fd, logErr := progLoad(&attr)
	runtime.KeepAlive(log)
	if logErr == nil {
		// Loaded the second time (a transient failure): use it.
		return fd, nil
	}
	if text := verifierLog(log); text != "" {
		return -1, fmt.Errorf("BPF_PROG_LOAD: %w: verifier log:\n%s", err, text)
	}
	return -1, fmt.Errorf("BPF_PROG_LOAD: %w", err)
}

// verifierLog is the log's text: NUL-terminated, possibly cut short.
func verifierLog(buf []byte) string {
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return strings.TrimRight(string(buf), "\n")
}

// attachDeviceProgram attaches prog to the cgroup open at cgroupFD with
// BPF_F_ALLOW_MULTI; replace, when not -1, is an attached program it takes
// the place of in one step (BPF_F_REPLACE).
func attachDeviceProgram(cgroupFD, prog, replace int) error {
	attr := progAttachAttr{
		targetFD:    uint32(cgroupFD),
		attachBPFFD: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if replace >= 0 {
		attr.attachFlags |= unix.BPF_F_REPLACE
		attr.replaceBPFFD = uint32(replace)
	}
	if _, err := bpfCall(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("BPF_PROG_ATTACH: %w", err)
	}
	return nil
}

// detachDeviceProgram detaches prog from the cgroup open at cgroupFD.
func detachDeviceProgram(cgroupFD, prog int) error {
	attr := progAttachAttr{
		targetFD:    uint32(cgroupFD),
		attachBPFFD: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
	}
	if _, err := bpfCall(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("BPF_PROG_DETACH: %w", err)
	}
	return nil
}

// queryDevicePrograms returns the ids of the device programs attached to
// the cgroup open at cgroupFD (not those of its ancestors).
func queryDevicePrograms(cgroupFD int) ([]uint32, error) {
	ids := make([]uint32, 16)
	for {
		attr := progQueryAttr{
			targetFD:   uint32(cgroupFD),
			attachType: unix.BPF_CGROUP_DEVICE,
			progIDs:    ptr(unsafe.Pointer(&ids[0])),
			progCnt:    uint32(len(ids)),
		}
		_, err := bpfCall(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(ids)
		if errors.Is(err, unix.ENOSPC) && int(attr.progCnt) > len(ids) {
			// More than we had room for; the kernel says how many.
			ids = make([]uint32, attr.progCnt)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("BPF_PROG_QUERY: %w", err)
		}
		return ids[:attr.progCnt], nil
	}
}

// openProgram returns a descriptor of the loaded program id.
func openProgram(id uint32) (int, error) {
	attr := getIDAttr{id: id}
	fd, err := bpfCall(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return -1, fmt.Errorf("BPF_PROG_GET_FD_BY_ID %d: %w", id, err)
	}
	return fd, nil
}

// programName returns the name the program open at fd was loaded with.
func programName(fd int) (string, error) {
	var info progInfo
	attr := objInfoAttr{bpfFD: uint32(fd), infoLen: uint32(unsafe.Sizeof(info)), info: ptr(unsafe.Pointer(&info))}
	_, err := bpfCall(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&info)
	if err != nil {
		return "", fmt.Errorf("BPF_OBJ_GET_INFO_BY_FD: %w", err)
	}
	return unix.ByteSliceToString(info.name[:]), nil
}
