package cgroups

import (
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroup v2 has no devices files: a BPF_PROG_TYPE_CGROUP_DEVICE program
// attached to the cgroup decides each access. deviceFilter compiles the
// spec's rules into one.
//
// Semantics, chosen to match v1's devices.allow/deny and runc's filter:
//
//   - Default deny: an access no rule allows is refused.
//   - Last match wins, per access bit: rules are read from the last to the
//     first; a rule matches when its type (a = any), major and minor
//     (nil or -1 = any) match the device. A matching allow rule grants
//     the bits it names (r, w, m); a matching deny rule refuses the
//     access if it names a bit not granted yet by a later rule. The access
//     is allowed once every bit it asks for is granted.
//   - An empty access means rwm; an empty type means a.
//
// So [deny a, allow c 1:3 rwm, deny c 1:3 w] lets a process open /dev/null
// read-only and mknod it, but not open it for writing.
//
// Unlike v1 (which reads any type-a rule as "every device, rwm"), type-a
// rules with numbers or partial access mean what they say.

// The kernel's struct bpf_cgroup_dev_ctx: access_type (type in the low
// 16 bits, access in the high 16), major, minor; all u32.
const (
	devCtxAccessType = 0
	devCtxMajor      = 4
	devCtxMinor      = 8

	bpfDevBlock = 1 // BPF_DEVCG_DEV_BLOCK
	bpfDevChar  = 2 // BPF_DEVCG_DEV_CHAR

	bpfAccMknod = 1 // BPF_DEVCG_ACC_MKNOD
	bpfAccRead  = 2 // BPF_DEVCG_ACC_READ
	bpfAccWrite = 4 // BPF_DEVCG_ACC_WRITE
	bpfAccAll   = bpfAccMknod | bpfAccRead | bpfAccWrite
)

// deviceProgName marks our programs so that an update replaces them and
// leaves other programs attached to the cgroup (systemd's) alone.
const deviceProgName = "berth_devices"

// Registers of the program.
const (
	regCtx    = bpfR1
	regType   = bpfR2
	regAccess = bpfR3
	regMajor  = bpfR4
	regMinor  = bpfR5
	regNeed   = bpfR6 // access bits not granted yet
	regTmp    = bpfR7
)

// deviceFilter compiles rules. allowAll reports that they allow every
// access to every device: the caller then needs no program at all.
func deviceFilter(rules []specs.LinuxDeviceCgroup) (insns []bpfInsn, allowAll bool) {
	insns = []bpfInsn{
		ldxW(regType, regCtx, devCtxAccessType),
		movReg(regAccess, regType),
		rshImm(regAccess, 16),
		andImm(regType, 0xffff),
		ldxW(regMajor, regCtx, devCtxMajor),
		ldxW(regMinor, regCtx, devCtxMinor),
		movReg(regNeed, regAccess),
	}
	terminal, sawDeny := false, false
	n := 0
	for i := len(rules) - 1; i >= 0 && !terminal; i-- {
		r := rules[i]
		typ, access := deviceRuleBits(r)
		anyDevice := typ == 0 && wildcard(r.Major) && wildcard(r.Minor)
		if anyDevice && access == bpfAccAll {
			// Decides every remaining access: nothing before it matters.
			terminal = true
			allowAll = r.Allow && !sawDeny
		}
		sawDeny = sawDeny || !r.Allow
		next := "rule" + strconv.Itoa(n+1)
		var block []bpfInsn
		if typ != 0 {
			block = append(block, jneImm(regType, typ, next))
		}
		if !wildcard(r.Major) {
			block = append(block, jneImm(regMajor, int32(*r.Major), next))
		}
		if !wildcard(r.Minor) {
			block = append(block, jneImm(regMinor, int32(*r.Minor), next))
		}
		if r.Allow {
			block = append(block,
				andImm(regNeed, ^access&bpfAccAll),
				jneImm(regNeed, 0, next),
				movImm(bpfR0, 1),
				exit(),
			)
		} else {
			block = append(block,
				movReg(regTmp, regNeed),
				andImm(regTmp, access),
				jeqImm(regTmp, 0, next),
				movImm(bpfR0, 0),
				exit(),
			)
		}
		block[0] = block[0].at("rule" + strconv.Itoa(n))
		insns = append(insns, block...)
		n++
	}
	insns = append(insns,
		movImm(bpfR0, 0).at("rule"+strconv.Itoa(n)),
		exit(),
	)
	return insns, allowAll
}

// deviceRuleBits returns a rule's BPF device type (0 for any) and access bits.
func deviceRuleBits(r specs.LinuxDeviceCgroup) (typ int32, access int32) {
	switch r.Type {
	case "b":
		typ = bpfDevBlock
	case "c":
		typ = bpfDevChar
	}
	if r.Access == "" {
		return typ, bpfAccAll
	}
	for _, c := range r.Access {
		switch c {
		case 'm':
			access |= bpfAccMknod
		case 'r':
			access |= bpfAccRead
		case 'w':
			access |= bpfAccWrite
		}
	}
	return typ, access
}

func wildcard(n *int64) bool { return n == nil || *n == -1 }
