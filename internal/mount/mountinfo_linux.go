package mount

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// mountPointsBelow returns the mount points strictly below dir, in
// mountinfo order (a mount comes after the one it is on).
func mountPointsBelow(dir string) ([]string, error) {
	// mountinfo shows resolved paths; a target reached through a symlink
	// must be compared in that form.
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("mounts below %s: %w", dir, err)
	}
	prefix := filepath.Clean(resolved)
	if prefix != "/" {
		prefix += "/"
	}
	data, err := threadMountinfo()
	if err != nil {
		return nil, fmt.Errorf("mounts below %s: %w", dir, err)
	}
	var points []string
	err = eachMountinfoLine(data, func(fields []string) {
		if p := unescapeMountinfo(fields[4]); strings.HasPrefix(p, prefix) {
			points = append(points, p)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("mounts below %s: %w", dir, err)
	}
	return points, nil
}

// threadMountinfo is the calling thread's mountinfo, not the process's:
// /proc/self is the main thread's, which a goroutine that locked it and
// entered a private mount namespace (then exited) leaves there for good,
// as Go cannot end the main thread. An unlocked goroutine always runs on
// a thread in the process's shared namespace.
func threadMountinfo() ([]byte, error) {
	return os.ReadFile("/proc/thread-self/mountinfo")
}

// eachMountinfoLine calls fn with the fields of every mountinfo line
// (id parent major:minor root mountpoint options [optional...] - fstype
// source superopts); paths are still escaped.
func eachMountinfoLine(data []byte, fn func(fields []string)) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 7 {
			fn(fields)
		}
	}
	return sc.Err()
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
