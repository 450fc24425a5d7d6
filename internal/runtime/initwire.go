package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The init's config travels in a binary encoding of our own rather than
// JSON. The init decodes it once, cold, on every container start, and
// encoding/json's first decode of a type reflects over it and everything
// it reaches (field caches and decoders for some twenty types here): about
// half a millisecond, a quarter of the init's start-up. This is a plain
// walk over the fields instead.
//
// The runtime and its init are always the same binary (exe_linux.go), so
// the format has no compatibility to keep; the version byte only turns a
// mismatch into a clear error. Every field is written in declaration
// order; slices and maps carry their length plus one (0 is nil), pointers a
// presence flag, so the init sees exactly the values the runtime had.
// TestInitConfigWireComplete fills every field by reflection and fails
// when a new one (ours, or the runtime-spec module's) is not carried.

const initWireVersion = 2

type wireEncoder struct{ b []byte }

func (e *wireEncoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *wireEncoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *wireEncoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *wireEncoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// count writes a slice's or map's length, 0 for nil.
func (e *wireEncoder) count(n int, isNil bool) {
	if isNil {
		e.uint(0)
		return
	}
	e.uint(uint64(n) + 1)
}

func (e *wireEncoder) bytes(b []byte) {
	e.count(len(b), b == nil)
	e.b = append(e.b, b...)
}

func (e *wireEncoder) strs(ss []string) { encodeSlice(e, ss, (*wireEncoder).str) }

func (e *wireEncoder) strMap(m map[string]string) {
	e.count(len(m), m == nil)
	for k, v := range m {
		e.str(k)
		e.str(v)
	}
}

func encodeSlice[T any](e *wireEncoder, s []T, enc func(*wireEncoder, T)) {
	e.count(len(s), s == nil)
	for _, v := range s {
		enc(e, v)
	}
}

// encodePtr writes whether p is set, then *p.
func encodePtr[T any](e *wireEncoder, p *T, enc func(*wireEncoder, T)) {
	e.bool(p != nil)
	if p != nil {
		enc(e, *p)
	}
}

// wireDecoder reads what wireEncoder wrote. The first error sticks; every
// read after it returns zero values.
type wireDecoder struct {
	b   []byte
	err error
}

var errWireTruncated = errors.New("truncated")

func (d *wireDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *wireDecoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errWireTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDecoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errWireTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *wireDecoder) uint32() uint32 {
	v := d.uint()
	if v > 1<<32-1 {
		d.fail(fmt.Errorf("%d does not fit 32 bits", v))
		return 0
	}
	return uint32(v)
}

func (d *wireDecoder) int32() int32 {
	v := d.int()
	if v != int64(int32(v)) {
		d.fail(fmt.Errorf("%d does not fit 32 bits", v))
		return 0
	}
	return int32(v)
}

func (d *wireDecoder) intv() int {
	v := d.int()
	if v != int64(int(v)) {
		d.fail(fmt.Errorf("%d does not fit an int", v))
		return 0
	}
	return int(v)
}

func (d *wireDecoder) bool() bool {
	if len(d.b) == 0 {
		d.fail(errWireTruncated)
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.fail(fmt.Errorf("bad bool %d", v))
	}
	return v == 1
}

func (d *wireDecoder) raw(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail(errWireTruncated)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *wireDecoder) str() string { return string(d.raw(d.uint())) }

// count reads a length written by wireEncoder.count. Every element takes
// at least a byte, so a length beyond what is left is corrupt: refused
// before anything is allocated for it.
func (d *wireDecoder) count() (n int, isNil bool) {
	v := d.uint()
	if v == 0 {
		return 0, true
	}
	if v-1 > uint64(len(d.b)) {
		d.fail(errWireTruncated)
		return 0, true
	}
	return int(v - 1), false
}

func (d *wireDecoder) bytes() []byte {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	return d.raw(uint64(n))
}

func (d *wireDecoder) strs() []string { return decodeSlice(d, (*wireDecoder).str) }

func (d *wireDecoder) strMap() map[string]string {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func decodeSlice[T any](d *wireDecoder, dec func(*wireDecoder) T) []T {
	n, isNil := d.count()
	if isNil {
		return nil
	}
	s := make([]T, n)
	for i := range s {
		s[i] = dec(d)
	}
	return s
}

func decodePtr[T any](d *wireDecoder, dec func(*wireDecoder) T) *T {
	if !d.bool() {
		return nil
	}
	v := dec(d)
	return &v
}

// typed adapts a decoder of strings to a string type of the spec's.
func typed[T ~string](d *wireDecoder) T { return T(d.str()) }

func typedStrs[T ~string](d *wireDecoder) []T { return decodeSlice(d, typed[T]) }

func encodeTypedStrs[T ~string](e *wireEncoder, s []T) {
	encodeSlice(e, s, func(e *wireEncoder, v T) { e.str(string(v)) })
}

// encode renders the config for the init.
func (c *initConfig) encode() []byte {
	e := &wireEncoder{b: make([]byte, 0, 4096)}
	e.b = append(e.b, initWireVersion)
	e.str(string(c.Mode))
	e.str(c.ID)
	e.str(c.Bundle)
	e.str(c.Rootfs)
	encodePtr(e, c.Process, encodeProcess)
	e.int(int64(c.HostPid))
	e.bool(c.NoPivot)
	e.int(int64(c.ConsoleFD))
	e.int(int64(c.ListenFD))
	e.bool(c.StartNow)
	e.bool(c.FinalizeEarly)
	e.int(int64(c.PreserveFDs))
	encodeSlice(e, c.Cgroups, func(e *wireEncoder, m cgroupMount) {
		e.str(m.Dir)
		e.str(m.Options)
		e.str(m.HostPath)
		e.bool(m.V2)
		e.strs(m.Symlinks)
	})
	e.bool(c.InUserNS)
	e.int(int64(c.LatePidsFD))
	e.str(c.LatePidsValue)
	e.int(int64(c.Passed))
	e.int(int64(c.RootfsFD))
	e.int(int64(c.NetNSFD))
	e.bytes(c.Seccomp)
	encodeSlice(e, c.Mounts, encodeMount)
	encodeSlice(e, c.Devices, encodeDevice)
	e.strs(c.MaskedPaths)
	e.strs(c.ReadonlyPaths)
	e.strMap(c.Sysctl)
	e.str(c.Hostname)
	e.str(c.Domainname)
	e.bool(c.ReadonlyRoot)
	e.str(c.RootfsPropagation)
	encodePtr(e, c.Personality, func(e *wireEncoder, p specs.LinuxPersonality) {
		e.str(string(p.Domain))
		encodeTypedStrs(e, p.Flags)
	})
	e.bool(c.NewMountNS)
	e.bool(c.NewCgroupNS)
	e.bool(c.RuntimeHooks)
	encodeSlice(e, c.CreateContainer, encodeHook)
	encodeSlice(e, c.StartContainer, encodeHook)
	e.strMap(c.Annotations)
	return e.b
}

// decodeInitConfig reads what encode wrote.
func decodeInitConfig(b []byte) (*initConfig, error) {
	if len(b) == 0 || b[0] != initWireVersion {
		return nil, errors.New("init config: not this runtime's encoding")
	}
	d := &wireDecoder{b: b[1:]}
	c := &initConfig{}
	c.Mode = typed[initMode](d)
	c.ID = d.str()
	c.Bundle = d.str()
	c.Rootfs = d.str()
	c.Process = decodePtr(d, decodeProcess)
	c.HostPid = d.intv()
	c.NoPivot = d.bool()
	c.ConsoleFD = d.intv()
	c.ListenFD = d.intv()
	c.StartNow = d.bool()
	c.FinalizeEarly = d.bool()
	c.PreserveFDs = d.intv()
	c.Cgroups = decodeSlice(d, func(d *wireDecoder) cgroupMount {
		return cgroupMount{Dir: d.str(), Options: d.str(), HostPath: d.str(), V2: d.bool(), Symlinks: d.strs()}
	})
	c.InUserNS = d.bool()
	c.LatePidsFD = d.intv()
	c.LatePidsValue = d.str()
	c.Passed = d.intv()
	c.RootfsFD = d.intv()
	c.NetNSFD = d.intv()
	c.Seccomp = d.bytes()
	c.Mounts = decodeSlice(d, decodeMount)
	c.Devices = decodeSlice(d, decodeDevice)
	c.MaskedPaths = d.strs()
	c.ReadonlyPaths = d.strs()
	c.Sysctl = d.strMap()
	c.Hostname = d.str()
	c.Domainname = d.str()
	c.ReadonlyRoot = d.bool()
	c.RootfsPropagation = d.str()
	c.Personality = decodePtr(d, func(d *wireDecoder) specs.LinuxPersonality {
		return specs.LinuxPersonality{Domain: typed[specs.LinuxPersonalityDomain](d), Flags: typedStrs[specs.LinuxPersonalityFlag](d)}
	})
	c.NewMountNS = d.bool()
	c.NewCgroupNS = d.bool()
	c.RuntimeHooks = d.bool()
	c.CreateContainer = decodeSlice(d, decodeHook)
	c.StartContainer = decodeSlice(d, decodeHook)
	c.Annotations = d.strMap()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("init config: %w", d.err)
	}
	return c, nil
}

func encodeProcess(e *wireEncoder, p specs.Process) {
	e.bool(p.Terminal)
	encodePtr(e, p.ConsoleSize, func(e *wireEncoder, b specs.Box) {
		e.uint(uint64(b.Height))
		e.uint(uint64(b.Width))
	})
	e.uint(uint64(p.User.UID))
	e.uint(uint64(p.User.GID))
	encodePtr(e, p.User.Umask, func(e *wireEncoder, v uint32) { e.uint(uint64(v)) })
	encodeSlice(e, p.User.AdditionalGids, func(e *wireEncoder, v uint32) { e.uint(uint64(v)) })
	e.str(p.User.Username)
	e.strs(p.Args)
	e.str(p.CommandLine)
	e.strs(p.Env)
	e.str(p.Cwd)
	encodePtr(e, p.Capabilities, func(e *wireEncoder, c specs.LinuxCapabilities) {
		e.strs(c.Bounding)
		e.strs(c.Effective)
		e.strs(c.Inheritable)
		e.strs(c.Permitted)
		e.strs(c.Ambient)
	})
	encodeSlice(e, p.Rlimits, func(e *wireEncoder, r specs.POSIXRlimit) {
		e.str(r.Type)
		e.uint(r.Hard)
		e.uint(r.Soft)
	})
	e.bool(p.NoNewPrivileges)
	e.str(p.ApparmorProfile)
	encodePtr(e, p.OOMScoreAdj, func(e *wireEncoder, v int) { e.int(int64(v)) })
	encodePtr(e, p.Scheduler, func(e *wireEncoder, s specs.Scheduler) {
		e.str(string(s.Policy))
		e.int(int64(s.Nice))
		e.int(int64(s.Priority))
		encodeTypedStrs(e, s.Flags)
		e.uint(s.Runtime)
		e.uint(s.Deadline)
		e.uint(s.Period)
	})
	e.str(p.SelinuxLabel)
	encodePtr(e, p.IOPriority, func(e *wireEncoder, io specs.LinuxIOPriority) {
		e.str(string(io.Class))
		e.int(int64(io.Priority))
	})
	encodePtr(e, p.ExecCPUAffinity, func(e *wireEncoder, a specs.CPUAffinity) {
		e.str(a.Initial)
		e.str(a.Final)
	})
}

func decodeProcess(d *wireDecoder) specs.Process {
	var p specs.Process
	p.Terminal = d.bool()
	p.ConsoleSize = decodePtr(d, func(d *wireDecoder) specs.Box {
		return specs.Box{Height: uint(d.uint()), Width: uint(d.uint())}
	})
	p.User.UID = d.uint32()
	p.User.GID = d.uint32()
	p.User.Umask = decodePtr(d, (*wireDecoder).uint32)
	p.User.AdditionalGids = decodeSlice(d, (*wireDecoder).uint32)
	p.User.Username = d.str()
	p.Args = d.strs()
	p.CommandLine = d.str()
	p.Env = d.strs()
	p.Cwd = d.str()
	p.Capabilities = decodePtr(d, func(d *wireDecoder) specs.LinuxCapabilities {
		return specs.LinuxCapabilities{Bounding: d.strs(), Effective: d.strs(), Inheritable: d.strs(), Permitted: d.strs(), Ambient: d.strs()}
	})
	p.Rlimits = decodeSlice(d, func(d *wireDecoder) specs.POSIXRlimit {
		return specs.POSIXRlimit{Type: d.str(), Hard: d.uint(), Soft: d.uint()}
	})
	p.NoNewPrivileges = d.bool()
	p.ApparmorProfile = d.str()
	p.OOMScoreAdj = decodePtr(d, (*wireDecoder).intv)
	p.Scheduler = decodePtr(d, func(d *wireDecoder) specs.Scheduler {
		return specs.Scheduler{
			Policy: typed[specs.LinuxSchedulerPolicy](d), Nice: d.int32(), Priority: d.int32(),
			Flags: typedStrs[specs.LinuxSchedulerFlag](d), Runtime: d.uint(), Deadline: d.uint(), Period: d.uint(),
		}
	})
	p.SelinuxLabel = d.str()
	p.IOPriority = decodePtr(d, func(d *wireDecoder) specs.LinuxIOPriority {
		return specs.LinuxIOPriority{Class: typed[specs.IOPriorityClass](d), Priority: d.intv()}
	})
	p.ExecCPUAffinity = decodePtr(d, func(d *wireDecoder) specs.CPUAffinity {
		return specs.CPUAffinity{Initial: d.str(), Final: d.str()}
	})
	return p
}

func encodeIDMapping(e *wireEncoder, m specs.LinuxIDMapping) {
	e.uint(uint64(m.ContainerID))
	e.uint(uint64(m.HostID))
	e.uint(uint64(m.Size))
}

func decodeIDMapping(d *wireDecoder) specs.LinuxIDMapping {
	return specs.LinuxIDMapping{ContainerID: d.uint32(), HostID: d.uint32(), Size: d.uint32()}
}

func encodeMount(e *wireEncoder, m specs.Mount) {
	e.str(m.Destination)
	e.str(m.Type)
	e.str(m.Source)
	e.strs(m.Options)
	encodeSlice(e, m.UIDMappings, encodeIDMapping)
	encodeSlice(e, m.GIDMappings, encodeIDMapping)
}

func decodeMount(d *wireDecoder) specs.Mount {
	return specs.Mount{
		Destination: d.str(), Type: d.str(), Source: d.str(), Options: d.strs(),
		UIDMappings: decodeSlice(d, decodeIDMapping), GIDMappings: decodeSlice(d, decodeIDMapping),
	}
}

func encodeDevice(e *wireEncoder, dev specs.LinuxDevice) {
	e.str(dev.Path)
	e.str(dev.Type)
	e.int(dev.Major)
	e.int(dev.Minor)
	encodePtr(e, dev.FileMode, func(e *wireEncoder, m os.FileMode) { e.uint(uint64(m)) })
	encodePtr(e, dev.UID, func(e *wireEncoder, v uint32) { e.uint(uint64(v)) })
	encodePtr(e, dev.GID, func(e *wireEncoder, v uint32) { e.uint(uint64(v)) })
}

func decodeDevice(d *wireDecoder) specs.LinuxDevice {
	return specs.LinuxDevice{
		Path: d.str(), Type: d.str(), Major: d.int(), Minor: d.int(),
		FileMode: decodePtr(d, func(d *wireDecoder) os.FileMode { return os.FileMode(d.uint32()) }),
		UID:      decodePtr(d, (*wireDecoder).uint32),
		GID:      decodePtr(d, (*wireDecoder).uint32),
	}
}

func encodeHook(e *wireEncoder, h specs.Hook) {
	e.str(h.Path)
	e.strs(h.Args)
	e.strs(h.Env)
	encodePtr(e, h.Timeout, func(e *wireEncoder, v int) { e.int(int64(v)) })
}

func decodeHook(d *wireDecoder) specs.Hook {
	return specs.Hook{Path: d.str(), Args: d.strs(), Env: d.strs(), Timeout: decodePtr(d, (*wireDecoder).intv)}
}
