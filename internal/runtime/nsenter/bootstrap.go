package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// EnvInitPipe names the environment variable that carries the sync
// socket's fd number into the constructor.
const EnvInitPipe = "_BERTH_INITPIPE"

// Keep in step with nsexec.c.
const (
	bootstrapMagic = 0x48545242 // "BRTH"
	maxBootstrap   = 64 * 1024
	maxPaths       = 16
	maxCgroups     = 32

	recCloneFlags  = 1
	recNSPath      = 2
	recTimeOffsets = 3
	recCgroupV1    = 4

	msgUsermapReq = 1
	msgUsermapAck = 2
	msgChildPid   = 3
	msgError      = 4

	msgTextLen = 256
	msgLen     = 8 + msgTextLen
)

// NamespacePath is a namespace to join: its CLONE_NEW* flag and the path of
// a namespace file such as /proc/1234/ns/net.
type NamespacePath struct {
	Type uint32
	Path string
}

// Bootstrap is what the constructor needs to place the process.
type Bootstrap struct {
	// CloneFlags are the CLONE_NEW* namespaces to create.
	CloneFlags uint32
	// Join are namespaces to enter, in any order.
	Join []NamespacePath
	// TimeOffsets is written to /proc/self/timens_offsets of a new time
	// namespace ("monotonic 1 0\nboottime 2 0\n").
	TimeOffsets string
	// CgroupV1 are the container's cgroup v1 directories, one per
	// hierarchy: the stage moves itself there before anything else. (The
	// runtime forks the stage straight into its cgroup2 cgroup.)
	CgroupV1 []string
}

// Encode renders the bootstrap message.
func (b Bootstrap) Encode() ([]byte, error) {
	if len(b.Join) > maxPaths {
		return nil, fmt.Errorf("nsenter: %d namespace paths, at most %d", len(b.Join), maxPaths)
	}
	var body []byte
	rec := func(typ uint16, data []byte) {
		var h [8]byte
		binary.LittleEndian.PutUint16(h[0:], typ)
		binary.LittleEndian.PutUint32(h[4:], uint32(len(data)))
		body = append(body, h[:]...)
		body = append(body, data...)
	}
	var flags [4]byte
	binary.LittleEndian.PutUint32(flags[:], b.CloneFlags)
	rec(recCloneFlags, flags[:])
	for _, p := range b.Join {
		if p.Path == "" || strings.IndexByte(p.Path, 0) >= 0 {
			return nil, fmt.Errorf("nsenter: bad namespace path %q", p.Path)
		}
		data := binary.LittleEndian.AppendUint32(nil, p.Type)
		data = append(data, p.Path...)
		rec(recNSPath, append(data, 0))
	}
	if b.TimeOffsets != "" {
		rec(recTimeOffsets, append([]byte(b.TimeOffsets), 0))
	}
	if len(b.CgroupV1) > maxCgroups {
		return nil, fmt.Errorf("nsenter: %d cgroup directories, at most %d", len(b.CgroupV1), maxCgroups)
	}
	for _, dir := range b.CgroupV1 {
		if !validCgroupDir(dir) {
			return nil, fmt.Errorf("nsenter: bad cgroup directory %q", dir)
		}
		rec(recCgroupV1, append([]byte(dir), 0))
	}

	if len(body) > maxBootstrap {
		return nil, fmt.Errorf("nsenter: bootstrap of %d bytes is too large", len(body))
	}
	out := binary.LittleEndian.AppendUint32(nil, bootstrapMagic)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...), nil
}

func validCgroupDir(dir string) bool {
	return strings.HasPrefix(dir, "/") && strings.IndexByte(dir, 0) < 0
}

// Stage runs the parent's side of the constructor's protocol.
type Stage struct {
	rw io.ReadWriter
	// MapIDs is called when the constructor has unshared a user namespace
	// and waits for the uid_map and gid_map of process pid.
	MapIDs func(pid int) error
}

// NewStage starts the protocol on the parent's end of the sync socket.
func NewStage(rw io.ReadWriter, mapIDs func(pid int) error) *Stage {
	return &Stage{rw: rw, MapIDs: mapIDs}
}

// Run sends the bootstrap and serves the constructor until it reports the
// init's pid, which it returns.
func (s *Stage) Run(b Bootstrap) (int, error) {
	msg, err := b.Encode()
	if err != nil {
		return 0, err
	}
	if _, err := s.rw.Write(msg); err != nil {
		return 0, fmt.Errorf("nsenter: send bootstrap: %w", err)
	}
	for {
		var m [msgLen]byte
		if _, err := io.ReadFull(s.rw, m[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, errors.New("nsenter: init stage exited without reporting")
			}
			return 0, fmt.Errorf("nsenter: read: %w", err)
		}
		typ := binary.LittleEndian.Uint32(m[0:])
		arg := int32(binary.LittleEndian.Uint32(m[4:]))
		text := string(m[8:])
		if i := strings.IndexByte(text, 0); i >= 0 {
			text = text[:i]
		}
		switch typ {
		case msgUsermapReq:
			if s.MapIDs == nil {
				return 0, errors.New("nsenter: unexpected id mapping request")
			}
			if arg <= 0 {
				return 0, fmt.Errorf("nsenter: bad pid %d in id mapping request", arg)
			}
			if err := s.MapIDs(int(arg)); err != nil {
				return 0, err
			}
			var ack [msgLen]byte
			binary.LittleEndian.PutUint32(ack[0:], msgUsermapAck)
			if _, err := s.rw.Write(ack[:]); err != nil {
				return 0, fmt.Errorf("nsenter: ack id mappings: %w", err)
			}
		case msgChildPid:
			if arg <= 0 {
				return 0, fmt.Errorf("nsenter: bad init pid %d", arg)
			}
			return int(arg), nil
		case msgError:
			return 0, errors.New(text)
		default:
			return 0, fmt.Errorf("nsenter: unknown message %d", typ)
		}
	}
}
