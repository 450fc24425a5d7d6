// Package testenv holds the helpers that tests needing root, namespaces or
// the runtime binary share: requirement checks, the repository's bin
// directory, a minimal busybox rootfs and short unique names.
//
// A missing requirement fails the test with the reason and the fix; it never
// skips. CI runs as root with every requirement installed by
// scripts/setup.sh, so a skip there would only hide a broken machine.
package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath identifies this repository's go.mod, so that RepoRoot never
// stops at some other module's go.mod above or below us.
const modulePath = "github.com/berth-project/berth"

// RequireRoot fails t unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("testenv: %s needs root (euid is %d): run the tests as root, as CI does", t.Name(), os.Geteuid())
	}
}

// RepoRoot returns the repository's top directory: the nearest directory at
// or above the working directory whose go.mod declares this module.
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

// BinDir returns the repository's bin directory, where make puts every
// binary. It fails t when the directory does not exist.
func BinDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "bin")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("testenv: no directory %s: run make first", dir)
	}
	return dir
}

// RuntimeBinary returns the path of bin/berth-runtime, failing t when make
// has not built it.
func RuntimeBinary(t testing.TB) string {
	t.Helper()
	path, err := executableIn(filepath.Join(RepoRoot(t), "bin"), "berth-runtime")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return path
}

// UniqueName returns a name of at most 32 characters from [a-z0-9-] that
// starts with prefix, carries as much of the test's name as fits and ends in
// a random suffix, so that parallel tests and repeated runs never collide.
// It suits container ids, cgroup names and network namespace names; a link
// name (at most 15 bytes) needs a shorter scheme.
func UniqueName(t testing.TB, prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes instead)
	return uniqueName(prefix, t.Name(), hex.EncodeToString(b[:]))
}

const maxNameLen = 32

func uniqueName(prefix, testName, suffix string) string {
	head := sanitizeName(prefix)
	if name := sanitizeName(strings.TrimPrefix(testName, "Test")); name != "" {
		if head != "" {
			head += "-"
		}
		head += name
	}
	budget := maxNameLen - len(suffix) - 1
	if len(head) > budget {
		head = head[:budget]
	}
	head = strings.TrimRight(head, "-")
	if head == "" {
		return suffix
	}
	return head + "-" + suffix
}

// sanitizeName lower-cases s and turns every run of other characters into
// one dash, since ids, cgroup and netns names all accept [a-z0-9-].
func sanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

func findRepoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		ok, err := declaresModule(filepath.Join(d, "go.mod"))
		if err != nil {
			return "", err
		}
		if ok {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod for module %s at or above %s", modulePath, dir)
		}
	}
}

// declaresModule reports whether the go.mod at path declares this module; a
// missing file is not an error.
func declaresModule(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath, nil
		}
	}
	return false, s.Err()
}

func executableIn(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("no %s: run make first", path)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file: run make first", path)
	}
	return path, nil
}
