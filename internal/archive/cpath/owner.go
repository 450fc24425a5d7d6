package cpath

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// The texts of moby/sys/user, which dockerd's messages end with.
var (
	errNoPasswdEntries = errors.New("no matching entries in passwd file")
	errNoGroupEntries  = errors.New("no matching entries in group file")
)

// maxDBSize bounds what is read of a container's /etc/passwd or
// /etc/group: the container's content is not to be trusted with the
// daemon's memory.
const maxDBSize = 4 << 20

// idOrName is dockerd's getIDOrName: a 32-bit number up to MaxInt32 is an
// id, anything else a name.
func idOrName(s string) (int, string) {
	if id, err := strconv.ParseUint(s, 10, 32); err == nil && id <= math.MaxInt32 {
		return int(id), ""
	}
	return 0, s
}

// dbEntry is a line of /etc/passwd (name, uid, gid) or /etc/group (name,
// gid).
type dbEntry struct {
	name string
	id   int
	gid  int
}

// parseDB reads the first fields of each "name:x:id[:gid:...]" line;
// lines it cannot read are skipped, as moby/sys/user skips them.
func parseDB(b []byte, withGID bool) []dbEntry {
	var out []dbEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxDBSize)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		id, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		e := dbEntry{name: f[0], id: id}
		if withGID {
			if len(f) < 4 {
				continue
			}
			if e.gid, err = strconv.Atoi(f[3]); err != nil {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// ownerOf is dockerd's getUIDGID (daemon/archive_tarcopyoptions_unix.go)
// over the given file contents: "user[:group]", each a name or an id. A
// numeric user missing from passwd is that uid with gid 0, as `docker
// run --user 12345` is; a name must exist.
func ownerOf(spec string, passwd func() ([]byte, error), group func() ([]byte, error)) (Owner, error) {
	var o Owner
	userPart, groupPart, _ := strings.Cut(spec, ":")
	if userPart != "" {
		id, name := idOrName(userPart)
		b, err := passwd()
		if name != "" && err != nil {
			return o, lookupError("user", name, err)
		}
		found := false
		for _, e := range parseDB(b, true) {
			if (name != "" && e.name == name) || (name == "" && e.id == id) {
				o.UID, o.GID, found = e.id, e.gid, true
				break
			}
		}
		switch {
		case !found && name != "":
			return o, lookupError("user", name, errNoPasswdEntries)
		case !found:
			o.UID, o.GID = id, 0
		}
	}
	if groupPart != "" {
		id, name := idOrName(groupPart)
		if name == "" {
			o.GID = id
			return o, nil
		}
		b, err := group()
		if err != nil {
			return o, lookupError("group", groupPart, err)
		}
		for _, e := range parseDB(b, false) {
			if e.name == name {
				o.GID = e.id
				return o, nil
			}
		}
		return o, lookupError("group", groupPart, errNoGroupEntries)
	}
	return o, nil
}

func lookupError(kind, name string, err error) error {
	return errdefs.Errorf(errdefs.ErrInvalidParameter, "failed to look up %s %q in container: %w", kind, name, err)
}
