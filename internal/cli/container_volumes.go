package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
)

// parseVolumes splits -v values as the docker CLI 28 does: a value with
// a source (NAME:DST[:OPTS] or /HOST:DST[:OPTS]) is a bind, sent as
// typed (a host path starting with "." made absolute); a value without
// one (/DST) is an anonymous volume in Config.Volumes. Duplicates count
// once. Options are not checked here: the daemon does, with its words.
func parseVolumes(values []string) (binds []string, volumes map[string]struct{}, err error) {
	volumes = map[string]struct{}{}
	seen := map[string]bool{}
	for _, v := range values {
		if seen[v] {
			continue
		}
		seen[v] = true
		spec, err := parseVolumeSpec(v)
		if err != nil {
			return nil, nil, err
		}
		if spec.source == "" {
			volumes[v] = struct{}{}
			continue
		}
		bind := v
		if spec.bind {
			if host, target, ok := strings.Cut(v, ":"); ok {
				if !filepath.IsAbs(host) && strings.HasPrefix(host, ".") {
					if abs, err := filepath.Abs(host); err == nil {
						host = abs
					}
				}
				bind = host + ":" + target
			}
		}
		binds = append(binds, bind)
	}
	return binds, volumes, nil
}

// volumeSpec is what parseVolumeSpec reads of a -v value.
type volumeSpec struct {
	source, target string
	bind           bool // the source is a path (bind mount), not a volume name
}

// parseVolumeSpec reads SOURCE:TARGET[:OPTIONS] or TARGET, with the
// docker CLI's errors. Like docker, a single letter before ":" is a
// Windows drive ("c:/x"), part of the path.
func parseVolumeSpec(spec string) (volumeSpec, error) {
	var v volumeSpec
	switch len(spec) {
	case 0:
		return v, errors.New("invalid empty volume spec")
	case 1, 2:
		v.target = spec
		return v, nil
	}
	runes := []rune(spec)
	var buf []rune
	field := 0
	for i := 0; i <= len(runes); i++ {
		last := i == len(runes)
		var c rune
		if !last {
			c = runes[i]
		}
		switch {
		case !last && c == ':' && len(buf) == 1 && unicode.IsLetter(buf[0]):
			buf = append(buf, c)
		case last || c == ':':
			if len(buf) == 0 {
				return v, fmt.Errorf("invalid spec: %s: empty section between colons", spec)
			}
			switch {
			case field == 0 && last:
				v.target = string(buf)
			case field == 0:
				v.source = string(buf)
			case field == 1:
				v.target = string(buf)
			case !last:
				return v, fmt.Errorf("invalid spec: %s: too many colons", spec)
			}
			field++
			buf = buf[:0]
		default:
			buf = append(buf, c)
		}
	}
	v.bind = isHostPath(v.source)
	return v, nil
}

// isHostPath reports whether a -v source is a path on the host rather
// than a volume name.
func isHostPath(source string) bool {
	if source == "" {
		return false
	}
	switch source[0] {
	case '.', '/', '~':
		return true
	}
	if strings.HasPrefix(source, `\\`) {
		return true
	}
	r := []rune(source)
	return len(r) > 1 && r[1] == ':' && unicode.IsLetter(r[0])
}
