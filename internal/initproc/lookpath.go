package initproc

import (
	"io/fs"
	"os"
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
		p := dir + "/" + name
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode()&0o111 == 0 {
			denied = &lookError{p, fs.ErrPermission}
			continue
		}
		return p, nil
	}
	if denied != nil {
		return "", denied
	}
	return "", &lookError{name + ": executable file not found in $PATH", fs.ErrNotExist}
}

// lookError is lookPath's failure: fmt would make the binary bigger.
type lookError struct {
	msg string
	err error
}

func (e *lookError) Error() string {
	if e.err == fs.ErrPermission {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *lookError) Unwrap() error { return e.err }
