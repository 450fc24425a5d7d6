package image

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/cpu"
)

// Platform is an OS, architecture and variant, normalized as docker and
// containerd do, so that "linux/x86_64" equals "linux/amd64" and
// "linux/arm64" equals "linux/arm64/v8".
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String is "os/arch[/variant]".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// OCI returns the platform as an image-spec platform.
func (p Platform) OCI() ocispec.Platform {
	return ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// ParsePlatform parses "os[/arch[/variant]]" or a lone "arch" (the OS is
// then linux), as containerd's platforms.Parse reads docker's --platform,
// and normalizes it. An empty string is the host's platform.
func ParsePlatform(s string) (Platform, error) {
	if s == "" {
		return HostPlatform(), nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	for _, p := range parts {
		if p == "" {
			return Platform{}, fmt.Errorf("platform %q: empty component: %w", s, errdefs.ErrInvalidParameter)
		}
	}
	var p Platform
	switch len(parts) {
	case 1:
		if isKnownOS(parts[0]) {
			p = Platform{OS: parts[0], Architecture: runtime.GOARCH}
			if p.OS != runtime.GOOS {
				return Platform{}, fmt.Errorf("platform %q: an architecture is needed for another OS: %w", s, errdefs.ErrInvalidParameter)
			}
		} else {
			p = Platform{OS: "linux", Architecture: parts[0]}
		}
	case 2:
		p = Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return Platform{}, fmt.Errorf("platform %q: too many components: %w", s, errdefs.ErrInvalidParameter)
	}
	if !isKnownOS(p.OS) {
		return Platform{}, fmt.Errorf("platform %q: unknown operating system %q: %w", s, p.OS, errdefs.ErrInvalidParameter)
	}
	return NormalizePlatform(p), nil
}

func isKnownOS(os string) bool {
	switch os {
	case "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix", "android", "ios", "plan9", "dragonfly", "js", "wasip1":
		return true
	}
	return false
}

// NormalizePlatform folds the many spellings of one platform into the one
// docker compares: x86_64 is amd64, aarch64 is arm64 whose variant defaults
// to v8, arm defaults to v7 (armhf) or v6 (armel), and a bare variant
// number gains its "v".
func NormalizePlatform(p Platform) Platform {
	p.OS = strings.ToLower(p.OS)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	p.Architecture = strings.ToLower(p.Architecture)
	p.Variant = strings.ToLower(p.Variant)
	switch p.Architecture {
	case "i386", "i486", "i586", "i686", "x86":
		p.Architecture, p.Variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		p.Architecture = "amd64"
		if p.Variant == "v1" {
			// v1 is the baseline every amd64 image targets; docker prints
			// it as no variant at all.
			p.Variant = ""
		}
	case "aarch64", "arm64":
		p.Architecture = "arm64"
		switch p.Variant {
		case "", "8", "v8":
			p.Variant = "v8"
		}
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "arm":
		switch p.Variant {
		case "", "7":
			p.Variant = "v7"
		case "5", "6", "8":
			p.Variant = "v" + p.Variant
		}
	}
	return p
}

// PlatformFromOCI normalizes an image-spec platform.
func PlatformFromOCI(p ocispec.Platform) Platform {
	return NormalizePlatform(Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
}

// HostPlatform is the platform this process runs on, with the variant the
// CPU supports (the amd64 micro-architecture level, the arm version), so
// that an index offering amd64/v3 is chosen only on a CPU that runs it.
func HostPlatform() Platform {
	p := Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "amd64":
		p.Variant = amd64Level()
	case "arm":
		p.Variant = "v7"
	}
	return NormalizePlatform(p)
}

// amd64Level reports the x86-64 micro-architecture level of this CPU as
// the psABI defines it; "" is the baseline (v1).
func amd64Level() string {
	x := cpu.X86
	if !(x.HasSSE3 && x.HasSSSE3 && x.HasSSE41 && x.HasSSE42 && x.HasPOPCNT) {
		return ""
	}
	if !(x.HasAVX && x.HasAVX2 && x.HasBMI1 && x.HasBMI2 && x.HasFMA && x.HasOSXSAVE) {
		return "v2"
	}
	if !(x.HasAVX512F && x.HasAVX512BW && x.HasAVX512CD && x.HasAVX512DQ && x.HasAVX512VL) {
		return "v3"
	}
	return "v4"
}

// compatible lists the platforms a machine of platform p runs, best first:
// p itself, then the older variants of its architecture, then the 32-bit
// architecture it can execute. The order is docker's preference when an
// index offers several.
func (p Platform) compatible() []Platform {
	p = NormalizePlatform(p)
	out := []Platform{p}
	add := func(arch string, variants ...string) {
		for _, v := range variants {
			c := Platform{OS: p.OS, Architecture: arch, Variant: v}
			if c != p {
				out = append(out, c)
			}
		}
	}
	switch p.Architecture {
	case "amd64":
		levels := []string{"v4", "v3", "v2", ""}
		for i, l := range levels {
			if l == p.Variant {
				add("amd64", levels[i+1:]...)
				break
			}
		}
		add("386", "")
	case "arm64":
		if p.Variant == "v8" || p.Variant == "" {
			add("arm", "v8", "v7", "v6", "v5")
		}
	case "arm":
		arms := []string{"v8", "v7", "v6", "v5"}
		for i, v := range arms {
			if v == p.Variant {
				add("arm", arms[i+1:]...)
				break
			}
		}
	}
	return out
}

// Matches reports whether a machine of platform p runs images built for
// other.
func (p Platform) Matches(other Platform) bool {
	return p.rank(other) >= 0
}

// rank is other's position in p's preference list, or -1 when p cannot
// run it.
func (p Platform) rank(other Platform) int {
	other = NormalizePlatform(other)
	for i, c := range p.compatible() {
		if c == other {
			return i
		}
	}
	return -1
}

// SelectManifest picks, from an index's manifests, the one a machine of
// platform p should run: the best-ranked match, and among equals the first
// listed (as docker and containerd do). Entries without a platform or
// with an OS of "unknown" (attestations) are never chosen. No match is
// errdefs.ErrNotFound, with the platforms on offer in the message.
func SelectManifest(manifests []ocispec.Descriptor, p Platform) (ocispec.Descriptor, error) {
	best, bestRank := -1, -1
	var offered []string
	for i, m := range manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" || !isManifestType(m.MediaType) {
			continue
		}
		mp := PlatformFromOCI(*m.Platform)
		offered = append(offered, mp.String())
		if r := p.rank(mp); r >= 0 && (bestRank < 0 || r < bestRank) {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return ocispec.Descriptor{}, fmt.Errorf("no matching manifest for %s in the manifest list entries (offered: %s): %w",
			p, strings.Join(offered, ", "), errdefs.ErrNotFound)
	}
	return manifests[best], nil
}
