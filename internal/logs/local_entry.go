package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The local driver's file is a sequence of frames, docker's
// daemon/logger/local format: a 4-byte big-endian length, a protobuf
// LogEntry (api/types/plugins/logdriver/entry.proto) of that length, and
// the length again, so the file can be walked backwards for a tail.
const (
	frameLenSize = 4
	// maxLocalEntry is docker's maxMsgLen: its reader refuses a longer
	// entry, so ours refuses it too and never allocates more for one.
	maxLocalEntry = 1_000_000
)

// LogEntry and PartialLogEntryMetadata field numbers (entry.proto).
const (
	fieldSource      protowire.Number = 1
	fieldTimeNano    protowire.Number = 2
	fieldLine        protowire.Number = 3
	fieldPartial     protowire.Number = 4
	fieldPartialMeta protowire.Number = 5

	fieldMetaLast    protowire.Number = 1
	fieldMetaID      protowire.Number = 2
	fieldMetaOrdinal protowire.Number = 3
)

// localEntry is one decoded LogEntry. attrs (field 6) are not written
// and are skipped when read.
type localEntry struct {
	source   string
	timeNano int64
	line     []byte // without the newline docker's copier strips
	partial  bool
	meta     *partialMeta // set iff partial, as docker writes it
}

// partialMeta ties the chunks of one line longer than the copier's
// buffer: the same id, ordinals from 1, last on the chunk that ended with
// the newline.
type partialMeta struct {
	last    bool
	id      string
	ordinal int32
}

var (
	errFrameTooLarge = fmt.Errorf("log entry is larger than %d bytes", maxLocalEntry)
	errFrameMismatch = errors.New("log entry header and footer give different sizes")
)

// appendLocalFrame appends e as one frame: the protobuf encoding is the
// one gogo-protobuf gives docker (fields in number order, proto3 zero
// values left out), so the files are byte for byte docker's.
func appendLocalFrame(dst []byte, e *localEntry) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if e.source != "" {
		dst = protowire.AppendTag(dst, fieldSource, protowire.BytesType)
		dst = protowire.AppendString(dst, e.source)
	}
	if e.timeNano != 0 {
		dst = protowire.AppendTag(dst, fieldTimeNano, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(e.timeNano))
	}
	if len(e.line) != 0 {
		dst = protowire.AppendTag(dst, fieldLine, protowire.BytesType)
		dst = protowire.AppendBytes(dst, e.line)
	}
	if e.partial {
		dst = protowire.AppendTag(dst, fieldPartial, protowire.VarintType)
		dst = protowire.AppendVarint(dst, 1)
	}
	if e.meta != nil {
		dst = protowire.AppendTag(dst, fieldPartialMeta, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(e.meta.size()))
		if e.meta.last {
			dst = protowire.AppendTag(dst, fieldMetaLast, protowire.VarintType)
			dst = protowire.AppendVarint(dst, 1)
		}
		if e.meta.id != "" {
			dst = protowire.AppendTag(dst, fieldMetaID, protowire.BytesType)
			dst = protowire.AppendString(dst, e.meta.id)
		}
		if e.meta.ordinal != 0 {
			dst = protowire.AppendTag(dst, fieldMetaOrdinal, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(int64(e.meta.ordinal)))
		}
	}
	n := len(dst) - start - frameLenSize
	binary.BigEndian.PutUint32(dst[start:], uint32(n))
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func (m *partialMeta) size() int {
	n := 0
	if m.last {
		n += protowire.SizeTag(fieldMetaLast) + 1
	}
	if m.id != "" {
		n += protowire.SizeTag(fieldMetaID) + protowire.SizeBytes(len(m.id))
	}
	if m.ordinal != 0 {
		n += protowire.SizeTag(fieldMetaOrdinal) + protowire.SizeVarint(uint64(int64(m.ordinal)))
	}
	return n
}

// decodeLocalEntry parses one LogEntry. e.line aliases b.
func decodeLocalEntry(b []byte) (localEntry, error) {
	var e localEntry
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return e, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == fieldSource && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return e, protowire.ParseError(n)
			}
			e.source, b = string(v), b[n:]
		case num == fieldTimeNano && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return e, protowire.ParseError(n)
			}
			e.timeNano, b = int64(v), b[n:]
		case num == fieldLine && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return e, protowire.ParseError(n)
			}
			e.line, b = v, b[n:]
		case num == fieldPartial && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return e, protowire.ParseError(n)
			}
			e.partial, b = v != 0, b[n:]
		case num == fieldPartialMeta && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return e, protowire.ParseError(n)
			}
			m, err := decodePartialMeta(v)
			if err != nil {
				return e, err
			}
			e.meta, b = &m, b[n:]
		case num >= fieldSource && num <= fieldPartialMeta:
			return e, fmt.Errorf("field %d has wire type %d", num, typ)
		default:
			// attrs, and anything a later docker adds.
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return e, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return e, nil
}

func decodePartialMeta(b []byte) (partialMeta, error) {
	var m partialMeta
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == fieldMetaLast && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			m.last, b = v != 0, b[n:]
		case num == fieldMetaID && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			m.id, b = string(v), b[n:]
		case num == fieldMetaOrdinal && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			m.ordinal, b = int32(v), b[n:]
		case num >= fieldMetaLast && num <= fieldMetaOrdinal:
			return m, fmt.Errorf("partial metadata field %d has wire type %d", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return m, nil
}

// message turns e into a Message the way docker's local reader does: a
// newline is added back unless e is a chunk of a longer line that is not
// its last, so the chunks written out in order give the line again.
// Line is a copy.
func (e *localEntry) message() Message {
	complete := !e.partial || (e.meta != nil && e.meta.last)
	n := len(e.line)
	if complete {
		n++
	}
	line := make([]byte, len(e.line), n)
	copy(line, e.line)
	if complete {
		line = append(line, '\n')
	}
	return Message{
		Stream:  e.source,
		Line:    line,
		Time:    time.Unix(0, e.timeNano).UTC(),
		Partial: !complete,
	}
}
