package spec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxID is the largest uid or gid docker (runc's libcontainer/user)
// accepts.
const maxID = math.MaxInt32

// maxAccountFile bounds how much of /etc/passwd or /etc/group is read: the
// files come from an image, and an image may be hostile.
const maxAccountFile = 16 << 20

// ResolveUser resolves a docker user string ("", "name", "uid",
// "name:group", "uid:gid", ...) against the rootfs's /etc/passwd and
// /etc/group, as docker does. The files are opened inside rootfs, so a
// symlink in the image can never make Berth read a host file.
//
// uid and gid come from the passwd entry (a numeric user with no entry is
// used as it is, with gid 0); an explicit group replaces the gid. Without
// an explicit group, the groups listing the user by name are its
// supplementary groups. additionalGids is what docker puts in
// process.user.additionalGids: the gid first, then the supplementary ones.
//
// A name with no entry is InvalidParameter "unable to find user NAME: no
// matching entries in passwd file" (docker's text); likewise for groups.
func ResolveUser(rootfs, user string) (uid, gid uint32, additionalGids []uint32, err error) {
	u, err := resolveUser(rootfs, user, nil)
	if err != nil {
		return 0, 0, nil, err
	}
	return u.UID, u.GID, u.AdditionalGids, nil
}

type passwdEntry struct {
	name     string
	uid, gid int
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

func resolveUser(rootfs, user string, groupAdd []string) (specs.User, error) {
	var out specs.User
	userArg, groupArg, _ := strings.Cut(user, ":")
	uidArg, uidErr := strconv.Atoi(userArg)
	gidArg, gidErr := strconv.Atoi(groupArg)

	passwd, err := readAccountFile(rootfs, "/etc/passwd", parsePasswdLine)
	if err != nil {
		return out, err
	}
	uid, gid := 0, 0
	var matched *passwdEntry
	for i, p := range passwd {
		var ok bool
		switch {
		case userArg == "":
			ok = p.uid == 0
		case uidErr == nil:
			ok = p.uid == uidArg
		default:
			ok = p.name == userArg
		}
		if ok {
			matched = &passwd[i]
			break
		}
	}
	switch {
	case matched != nil:
		uid, gid = matched.uid, matched.gid
	case userArg != "":
		if uidErr != nil {
			return out, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to find user %s: no matching entries in passwd file", userArg)
		}
		if uidArg < 0 || uidArg > maxID {
			return out, errdefs.Errorf(errdefs.ErrInvalidParameter, "uids and gids must be in range 0-%d", maxID)
		}
		uid = uidArg
	}

	var sgids []int
	if groupArg != "" || matched != nil || len(groupAdd) > 0 {
		groups, err := readAccountFile(rootfs, "/etc/group", parseGroupLine)
		if err != nil {
			return out, err
		}
		if groupArg != "" {
			found := false
			for _, gr := range groups {
				if (gidErr == nil && gr.gid == gidArg) || (gidErr != nil && gr.name == groupArg) {
					gid, found = gr.gid, true
					break
				}
			}
			if !found {
				if gidErr != nil {
					return out, errdefs.Errorf(errdefs.ErrInvalidParameter, "unable to find group %s: no matching entries in group file", groupArg)
				}
				if gidArg < 0 || gidArg > maxID {
					return out, errdefs.Errorf(errdefs.ErrInvalidParameter, "uids and gids must be in range 0-%d", maxID)
				}
				gid = gidArg
			}
		} else if matched != nil {
			// Supplementary groups only come with the implicit form.
			for _, gr := range groups {
				for _, m := range gr.members {
					if m == matched.name {
						sgids = append(sgids, gr.gid)
						break
					}
				}
			}
		}
		for _, ag := range groupAdd {
			id, err := lookupGroup(groups, ag)
			if err != nil {
				return out, err
			}
			sgids = append(sgids, id)
		}
	}
	out.UID, out.GID = uint32(uid), uint32(gid)
	out.AdditionalGids = []uint32{uint32(gid)}
	for _, g := range sgids {
		out.AdditionalGids = append(out.AdditionalGids, uint32(g))
	}
	return out, nil
}

// lookupGroup resolves one --group-add value: a group name or gid from the
// group file, or else any number.
func lookupGroup(groups []groupEntry, name string) (int, error) {
	n, numErr := strconv.Atoi(name)
	for _, gr := range groups {
		if gr.name == name || (numErr == nil && gr.gid == n) {
			return gr.gid, nil
		}
	}
	if numErr != nil {
		return 0, errdefs.Errorf(errdefs.ErrInvalidParameter, "Unable to find group %s: no matching entries in group file", name)
	}
	if n < 0 || n > maxID {
		return 0, errdefs.Errorf(errdefs.ErrInvalidParameter, "uids and gids must be in range 0-%d", maxID)
	}
	return n, nil
}

// readAccountFile parses one of the rootfs's account files. A missing file
// is no entries (a numeric user needs none); anything but a regular file is
// refused, since reading a FIFO or a device planted by an image would hang
// or never end.
func readAccountFile[T any](rootfs, path string, parse func(string) (T, bool)) ([]T, error) {
	if rootfs == "" {
		return nil, nil
	}
	f, err := openInRoot(rootfs, path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in the container: %w", path, err)
	}
	defer f.Close()
	var out []T
	s := bufio.NewScanner(io.LimitReader(f, maxAccountFile))
	s.Buffer(make([]byte, 0, 4096), 1<<20)
	for s.Scan() {
		if e, ok := parse(s.Text()); ok {
			out = append(out, e)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read %s in the container: %w", path, err)
	}
	return out, nil
}

// openInRoot opens path for reading, resolved inside root (symlinks cannot
// leave it), and only if it is a regular file.
func openInRoot(root, path string) (*os.File, error) {
	h, err := pathrs.OpenInRoot(root, path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	}
	return pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
}

// parsePasswdLine reads "name:password:uid:gid:gecos:home:shell"; lines
// that do not parse are skipped, as libc does.
func parsePasswdLine(line string) (passwdEntry, bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return passwdEntry{}, false
	}
	f := strings.Split(line, ":")
	if len(f) < 4 {
		return passwdEntry{}, false
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return passwdEntry{}, false
	}
	return passwdEntry{name: f[0], uid: uid, gid: gid}, true
}

// parseGroupLine reads "name:password:gid:member,member".
func parseGroupLine(line string) (groupEntry, bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return groupEntry{}, false
	}
	f := strings.Split(line, ":")
	if len(f) < 3 {
		return groupEntry{}, false
	}
	gid, err := strconv.Atoi(f[2])
	if err != nil || gid < 0 {
		return groupEntry{}, false
	}
	e := groupEntry{name: f[0], gid: gid}
	if len(f) > 3 && f[3] != "" {
		e.members = strings.Split(f[3], ",")
	}
	return e, true
}

// checkUser resolves Config.User (and GroupAdd) in the rootfs: an unknown
// user or group is the user's mistake.
func (g *generator) checkUser() error {
	u, err := resolveUser(g.in.Rootfs, g.cfg.User, g.host.GroupAdd)
	if err != nil {
		return err
	}
	g.user = u
	return nil
}

func (g *generator) withUser(_ context.Context, s *specs.Spec) error {
	s.Process.User = g.user
	return nil
}
