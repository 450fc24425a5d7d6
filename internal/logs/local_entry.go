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
	err := eachField(b, fieldSource, fieldPartialMeta, func(f field) error {
		switch {
		case f.num == fieldSource && f.typ == protowire.BytesType:
			e.source = string(f.bytes)
		case f.num == fieldTimeNano && f.typ == protowire.VarintType:
			e.timeNano = int64(f.varint)
		case f.num == fieldLine && f.typ == protowire.BytesType:
			e.line = f.bytes
		case f.num == fieldPartial && f.typ == protowire.VarintType:
			e.partial = f.varint != 0
		case f.num == fieldPartialMeta && f.typ == protowire.BytesType:
			m, err := decodePartialMeta(f.bytes)
			if err != nil {
				return err
			}
			e.meta = &m
		default:
			return fmt.Errorf("field %d has wire type %d", f.num, f.typ)
		}
		return nil
	})
	return e, err
}

func decodePartialMeta(b []byte) (partialMeta, error) {
	var m partialMeta
	err := eachField(b, fieldMetaLast, fieldMetaOrdinal, func(f field) error {
		switch {
		case f.num == fieldMetaLast && f.typ == protowire.VarintType:
			m.last = f.varint != 0
		case f.num == fieldMetaID && f.typ == protowire.BytesType:
			m.id = string(f.bytes)
		case f.num == fieldMetaOrdinal && f.typ == protowire.VarintType:
			m.ordinal = int32(f.varint)
		default:
			return fmt.Errorf("partial metadata field %d has wire type %d", f.num, f.typ)
		}
		return nil
	})
	return m, err
}

// field is one decoded protobuf field: varint holds a varint's value,
// bytes a length-delimited one's (aliasing the message).
type field struct {
	num    protowire.Number
	typ    protowire.Type
	varint uint64
	bytes  []byte
}

// eachField calls fn for each field of message b numbered first..last,
// and skips the others (attrs, and anything a later docker adds).
func eachField(b []byte, first, last protowire.Number, fn func(field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num < first || num > last {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.varint, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
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
