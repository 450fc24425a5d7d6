package seccomp

import "sort"

//go:generate go run mktables.go

// sysRow is one syscall name and its number in every column (ABI) of the
// generated table; -1 means the ABI has no such syscall.
type sysRow struct {
	name string
	nr   [numCols]int32
}

// lookupSyscall returns the number of name in column col, or false when the
// ABI has no syscall of that name. sysTable is sorted by name and statically
// initialised, so this costs nothing at process start.
func lookupSyscall(col int, name string) (uint32, bool) {
	i := sort.Search(len(sysTable), func(i int) bool { return sysTable[i].name >= name })
	if i == len(sysTable) || sysTable[i].name != name || sysTable[i].nr[col] < 0 {
		return 0, false
	}
	return uint32(sysTable[i].nr[col]), true
}
