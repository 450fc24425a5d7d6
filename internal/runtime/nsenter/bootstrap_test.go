package nsenter

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	b := Bootstrap{CloneFlags: 0x20000, Join: []NamespacePath{{Type: 0x40000000, Path: "/proc/1/ns/net"}}, TimeOffsets: "monotonic 1 0\n"}
	msg, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(msg) != bootstrapMagic || int(binary.LittleEndian.Uint32(msg[4:])) != len(msg)-8 {
		t.Fatal("header")
	}
	body := msg[8:]
	var types []uint16
	for len(body) >= 8 {
		typ := binary.LittleEndian.Uint16(body)
		n := binary.LittleEndian.Uint32(body[4:])
		data := body[8 : 8+n]
		types = append(types, typ)
		if typ == recNSPath && string(data[4:]) != "/proc/1/ns/net\x00" {
			t.Errorf("path record %q", data)
		}
		body = body[8+n:]
	}
	if len(body) != 0 || len(types) != 3 {
		t.Fatalf("records %v, %d bytes left", types, len(body))
	}
	if _, err := (Bootstrap{Join: []NamespacePath{{Path: "a\x00b"}}}).Encode(); err == nil {
		t.Error("a NUL in a path must be refused")
	}
	if _, err := (Bootstrap{Join: make([]NamespacePath, maxPaths+1)}).Encode(); err == nil {
		t.Error("too many paths must be refused")
	}
}

// fakeStage plays the constructor's side of the protocol.
type fakeStage struct {
	in  bytes.Buffer // what the runtime wrote
	out io.Reader    // what the constructor says
}

func (f *fakeStage) Read(p []byte) (int, error)  { return f.out.Read(p) }
func (f *fakeStage) Write(p []byte) (int, error) { return f.in.Write(p) }

func msg(typ uint32, arg int32, text string) []byte {
	m := make([]byte, msgLen)
	binary.LittleEndian.PutUint32(m, typ)
	binary.LittleEndian.PutUint32(m[4:], uint32(arg))
	copy(m[8:], text)
	return m
}

func TestStageRun(t *testing.T) {
	mapped := false
	var f *fakeStage
	f = &fakeStage{out: bytes.NewReader(append(msg(msgUsermapReq, 77, ""), msg(msgChildPid, 4242, "")...))}
	st := NewStage(f, func(pid int) error { mapped = pid == 77; return nil })
	pid, err := st.Run(Bootstrap{CloneFlags: 1, CgroupV1: []string{"/sys/fs/cgroup/pids/x"}})
	if err != nil || pid != 4242 || !mapped {
		t.Fatalf("pid %d err %v mapped %v", pid, err, mapped)
	}
	if _, err := (Bootstrap{CgroupV1: []string{"relative"}}).Encode(); err == nil {
		t.Error("a relative cgroup directory must be refused")
	}
	f = &fakeStage{out: bytes.NewReader(msg(msgError, 1, "nsenter: join net namespace /x: Operation not permitted"))}
	if _, err := NewStage(f, nil).Run(Bootstrap{}); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Fatalf("error message lost: %v", err)
	}
	f = &fakeStage{out: bytes.NewReader(nil)}
	if _, err := NewStage(f, nil).Run(Bootstrap{}); err == nil {
		t.Fatal("EOF must be an error")
	}
	f = &fakeStage{out: bytes.NewReader(msg(msgUsermapReq, 0, ""))}
	if _, err := NewStage(f, nil).Run(Bootstrap{}); err == nil {
		t.Fatal("an unexpected mapping request must be an error")
	}
}
