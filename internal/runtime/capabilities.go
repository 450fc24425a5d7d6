package runtime

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// capabilityNames lists every capability the kernel defines, at its
// number (include/uapi/linux/capability.h). An array, not a map: the
// linker lays it out, where a map would be built at every start of the
// binary, the container's init included.
var capabilityNames = [...]string{
	"CAP_CHOWN",              // 0
	"CAP_DAC_OVERRIDE",       // 1
	"CAP_DAC_READ_SEARCH",    // 2
	"CAP_FOWNER",             // 3
	"CAP_FSETID",             // 4
	"CAP_KILL",               // 5
	"CAP_SETGID",             // 6
	"CAP_SETUID",             // 7
	"CAP_SETPCAP",            // 8
	"CAP_LINUX_IMMUTABLE",    // 9
	"CAP_NET_BIND_SERVICE",   // 10
	"CAP_NET_BROADCAST",      // 11
	"CAP_NET_ADMIN",          // 12
	"CAP_NET_RAW",            // 13
	"CAP_IPC_LOCK",           // 14
	"CAP_IPC_OWNER",          // 15
	"CAP_SYS_MODULE",         // 16
	"CAP_SYS_RAWIO",          // 17
	"CAP_SYS_CHROOT",         // 18
	"CAP_SYS_PTRACE",         // 19
	"CAP_SYS_PACCT",          // 20
	"CAP_SYS_ADMIN",          // 21
	"CAP_SYS_BOOT",           // 22
	"CAP_SYS_NICE",           // 23
	"CAP_SYS_RESOURCE",       // 24
	"CAP_SYS_TIME",           // 25
	"CAP_SYS_TTY_CONFIG",     // 26
	"CAP_MKNOD",              // 27
	"CAP_LEASE",              // 28
	"CAP_AUDIT_WRITE",        // 29
	"CAP_AUDIT_CONTROL",      // 30
	"CAP_SETFCAP",            // 31
	"CAP_MAC_OVERRIDE",       // 32
	"CAP_MAC_ADMIN",          // 33
	"CAP_SYSLOG",             // 34
	"CAP_WAKE_ALARM",         // 35
	"CAP_BLOCK_SUSPEND",      // 36
	"CAP_AUDIT_READ",         // 37
	"CAP_PERFMON",            // 38
	"CAP_BPF",                // 39
	"CAP_CHECKPOINT_RESTORE", // 40
}

// capabilityNumber returns the number of the capability called name.
func capabilityNumber(name string) (int, bool) {
	for n, c := range capabilityNames {
		if c == name {
			return n, true
		}
	}
	return 0, false
}

// capabilityName is the inverse of capabilityNumber.
func capabilityName(n int) string {
	if n >= 0 && n < len(capabilityNames) {
		return capabilityNames[n]
	}
	return fmt.Sprintf("CAP_%d", n)
}

// AllCapabilities lists every known capability name in number order.
func AllCapabilities() []string {
	return append([]string(nil), capabilityNames[:]...)
}

// capSet is a set of capabilities as a bit mask (all fit in 64 bits).
type capSet uint64

// parseCapabilities turns names into a set. Unknown names are an error:
// silently running with fewer privileges than asked would be a surprise,
// and with more would be worse.
func parseCapabilities(field string, names []string) (capSet, error) {
	var s capSet
	for _, name := range names {
		n, ok := capabilityNumber(strings.ToUpper(name))
		if !ok {
			return 0, fmt.Errorf("process.capabilities.%s: unknown capability %q: %w", field, name, errdefs.ErrInvalidParameter)
		}
		s |= 1 << uint(n)
	}
	return s, nil
}

func (s capSet) has(n int) bool { return s&(1<<uint(n)) != 0 }
