package runtime

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Compiled seccomp filters are kept in the state root, by a hash of the
// profile, of this binary (its device, inode, size and change time) and
// of the kernel's release (the compiler asks it what it supports):
// every container of an engine gets the same profile (docker's default,
// for most), and compiling it costs each create a quarter to a half
// millisecond of CPU. Only filters that compiled are kept; a rebuilt or
// replaced binary misses and compiles again. The root is the runtime's
// own (0700, on a tmpfs for berthd), so the files are trusted as its
// state is.

const (
	// seccompCacheDir starts with a dot, which no container id may.
	seccompCacheDir = ".seccomp"
	// maxSeccompCache bounds the directory: past it, it is emptied before
	// a new filter is stored (profiles rarely vary; binaries change).
	maxSeccompCache = 32
	// maxCachedFilter bounds what is read back: the kernel's limit of
	// 4096 instructions, 8 bytes each, and a header.
	maxCachedFilter = 64 << 10
)

// seccompCache is the cache in root; a zero one caches nothing.
type seccompCache struct {
	dir string
	key string
}

// newSeccompCache finds the cache entry for s, or a zero cache when this
// binary cannot be identified.
func newSeccompCache(root string, s *specs.LinuxSeccomp) seccompCache {
	var st unix.Stat_t
	if root == "" || unix.Stat("/proc/self/exe", &st) != nil {
		return seccompCache{}
	}
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return seccompCache{}
	}
	h := sha256.New()
	putUint(h, st.Dev, st.Ino, uint64(st.Size), uint64(st.Ctim.Sec), uint64(st.Ctim.Nsec))
	// The compiler asks the kernel what it supports.
	putString(h, unix.ByteSliceToString(uts.Release[:])+" "+unix.ByteSliceToString(uts.Version[:]))
	hashSeccomp(h, s)
	return seccompCache{dir: filepath.Join(root, seccompCacheDir), key: hex.EncodeToString(h.Sum(nil))}
}

// load returns the cached filter, or nil.
func (c seccompCache) load() []byte {
	if c.key == "" {
		return nil
	}
	f, err := os.Open(filepath.Join(c.dir, c.key))
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, maxCachedFilter+1)
	n, _ := f.Read(b)
	if n == 0 || n > maxCachedFilter {
		return nil
	}
	return b[:n]
}

// store keeps filter; failures only cost the next create a compile.
func (c seccompCache) store(filter []byte) {
	if c.key == "" || len(filter) == 0 || len(filter) > maxCachedFilter {
		return
	}
	if ents, err := os.ReadDir(c.dir); err == nil && len(ents) >= maxSeccompCache {
		os.RemoveAll(c.dir)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(c.dir, ".tmp-")
	if err != nil {
		return
	}
	_, err = tmp.Write(filter)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(c.dir, c.key))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}

// hashSeccomp writes every field of s that the compiled filter depends on,
// each length-prefixed, so that no two profiles write the same bytes.
func hashSeccomp(h hash.Hash, s *specs.LinuxSeccomp) {
	putString(h, string(s.DefaultAction))
	putOptUint(h, s.DefaultErrnoRet)
	putUint(h, uint64(len(s.Architectures)))
	for _, a := range s.Architectures {
		putString(h, string(a))
	}
	putUint(h, uint64(len(s.Flags)))
	for _, f := range s.Flags {
		putString(h, string(f))
	}
	putString(h, s.ListenerPath)
	putString(h, s.ListenerMetadata)
	putUint(h, uint64(len(s.Syscalls)))
	for _, sc := range s.Syscalls {
		putUint(h, uint64(len(sc.Names)))
		for _, n := range sc.Names {
			putString(h, n)
		}
		putString(h, string(sc.Action))
		putOptUint(h, sc.ErrnoRet)
		putUint(h, uint64(len(sc.Args)))
		for _, a := range sc.Args {
			putUint(h, uint64(a.Index), a.Value, a.ValueTwo)
			putString(h, string(a.Op))
		}
	}
}

func putUint(h hash.Hash, vs ...uint64) {
	var b [8]byte
	for _, v := range vs {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
}

func putString(h hash.Hash, s string) {
	putUint(h, uint64(len(s)))
	h.Write([]byte(s))
}

func putOptUint(h hash.Hash, v *uint) {
	if v == nil {
		putUint(h, 0)
		return
	}
	putUint(h, 1, uint64(*v))
}
