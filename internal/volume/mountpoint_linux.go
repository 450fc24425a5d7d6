package volume

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// statxAt is lstat of name in dirfd (dirfd itself when name is ""), with
// the mount id where the kernel has it (5.8 and later).
func statxAt(dirfd int, name string) (unix.Statx_t, error) {
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_SYNC_AS_STAT
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	var st unix.Statx_t
	for {
		err := unix.Statx(dirfd, name, flags, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, &st)
		if err == unix.EINTR {
			continue
		}
		return st, err
	}
}

// sameMount reports whether a and b are on the same mount: by mount id
// where the kernel reports it, else by device (which misses a bind mount
// of the same filesystem; isMountPoint covers that case for _data).
func sameMount(a, b *unix.Statx_t) bool {
	if a.Mask&b.Mask&unix.STATX_MNT_ID != 0 {
		return a.Mnt_id == b.Mnt_id
	}
	return a.Dev_major == b.Dev_major && a.Dev_minor == b.Dev_minor
}

// isMountPoint reports whether path (a directory of the store's, never a
// symlink) has a filesystem mounted on it.
func isMountPoint(path string) (bool, error) {
	st, err := statxAt(unix.AT_FDCWD, path)
	if err != nil {
		return false, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	parent, err := statxAt(unix.AT_FDCWD, filepath.Dir(path))
	if err != nil {
		return false, &os.PathError{Op: "statx", Path: filepath.Dir(path), Err: err}
	}
	if st.Mask&parent.Mask&unix.STATX_MNT_ID != 0 {
		return st.Mnt_id != parent.Mnt_id, nil
	}
	if !sameMount(&st, &parent) {
		return true, nil
	}
	return inMountinfo(path)
}

// inMountinfo reports whether path is a mount point listed in
// mountinfo: the way to see a bind mount of the same
// filesystem on kernels without statx's mount id.
func inMountinfo(path string) (bool, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false, err
	}
	// The calling thread's view (see internal/mount's mountPointsBelow).
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ...
		f := strings.SplitN(sc.Text(), " ", 6)
		if len(f) >= 5 && unescapeOctal(f[4]) == resolved {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeOctal undoes mountinfo's \NNN escapes (space, tab, newline,
// backslash).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
