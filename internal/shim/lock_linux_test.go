package shim

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestUnlockWithCopies: a lock released by unlock is free at once, even
// while another descriptor of the same open file lives on, as it does in
// a child forked meanwhile until that child execs.
func TestUnlockWithCopies(t *testing.T) {
	dir := t.TempDir()
	shared, err := lockState(dir, unix.LOCK_SH|unix.LOCK_NB)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(int(shared.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	unlock(shared)
	excl, err := lockState(dir, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		t.Fatalf("exclusive lock after unlock, with a copy of the released descriptor open: %v", err)
	}
	unlock(excl)
}
