package seccomp

import "sort"

//go:generate go run mktables.go

// sysRow is one syscall name and its number in every column (ABI) of the
// generated table; -1 means the ABI has no such syscall.
type sysRow struct {
	name string
	nr   [numCols]int32
}

// findRow returns the index of name in sysTable, or -1. sysTable is sorted
// by name and statically initialised, so it costs nothing at process start.
func findRow(name string) int {
	i := sort.Search(len(sysTable), func(i int) bool { return sysTable[i].name >= name })
	if i == len(sysTable) || sysTable[i].name != name {
		return -1
	}
	return i
}

// rowNr returns the number of the syscall in row for column col, or false
// when the ABI lacks it (or row is -1).
func rowNr(row, col int) (uint32, bool) {
	if row < 0 || sysTable[row].nr[col] < 0 {
		return 0, false
	}
	return uint32(sysTable[row].nr[col]), true
}

// lookupSyscall returns the number of name in column col, or false when the
// ABI has no syscall of that name.
func lookupSyscall(col int, name string) (uint32, bool) { return rowNr(findRow(name), col) }
