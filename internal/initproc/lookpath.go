package initproc

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// defaultPath is searched when the environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds the command as execvp(3) would: a name with a slash is
// used as it is, any other is searched in $PATH. It is here rather than
// os/exec's so the binary stays small.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	dirs, ok := os.LookupEnv("PATH")
	if !ok {
		dirs = defaultPath
	}
	var denied error
	for dir := range strings.SplitSeq(dirs, ":") {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode()&0o111 == 0 {
			denied = fmt.Errorf("%s: %w", p, fs.ErrPermission)
			continue
		}
		return p, nil
	}
	if denied != nil {
		return "", denied
	}
	return "", fmt.Errorf("%s: executable file not found in $PATH: %w", name, fs.ErrNotExist)
}
