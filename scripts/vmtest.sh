#!/usr/bin/env bash
# Boots Debian's kernel in QEMU on a pure cgroup v2 hierarchy, with an
# initramfs built here, and runs tests inside it: by default the cgroups
# package's tests and the runtime's cgroup v2 smoke tests
# (integration/vm/guest) against berth-runtime, both built here statically.
# Prints the VM's serial console and exits 0 only if every test passed.
# test/vm/README.md explains the design; integration/vm runs this from go test.
#
# Usage: scripts/vmtest.sh [options] [SUITE...]
#   SUITE            cgroups, runtime (default: both)
#   --run NAME=CMD   run the shell command CMD (in /tests) as test NAME; given
#                    --run and no SUITE, only these run
#   --file SRC[:DST] ship SRC into the VM (default DST: /tests/BASENAME)
#   --module NAME    load kernel module NAME (and its dependencies) at boot
#   --go-run REGEX   pass -test.run=REGEX to the Go test binaries
#   --accel A        kvm or tcg (default: kvm if it can boot this kernel, else tcg)
#   --timeout SECS   hard limit for the whole VM (default: 300 kvm, 900 tcg)
#   --mem SIZE       guest memory (default 1G)
#   --smp N          guest CPUs (default 2)
#   --no-enable      leave the root's cgroup.subtree_control empty
#   --tmpfs-root     put / on a tmpfs, not on a ramdisk block device (the
#                    latter needs the kernel package's modules, extracted
#                    once, and lets the io controller's limits be tested)
#   --keep           keep the work directory (initramfs, serial log)
#
# Environment: BERTH_VM_KERNEL=/path/to/bzImage boots that kernel instead of
# Debian's package (modules then come from BERTH_VM_MODULES, a directory
# holding lib/modules); XDG_CACHE_HOME moves the cache
# (default ~/.cache/berth/vm).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/berth/vm"
suites=()
runs=()
files=()
modules=()
go_run=
accel=${BERTH_VM_ACCEL:-}
timeout=
mem=1G
smp=2
enable=all
rootdisk=1
keep=0

die() {
	echo "vmtest: $*" >&2
	exit 2
}
log() { echo "vmtest: $*" >&2; }

while (($#)); do
	case $1 in
	--run) [[ ${2-} == *=* ]] || die "--run needs NAME=CMD"; runs+=("$2"); shift ;;
	--file) [[ -n ${2-} ]] || die "--file needs SRC[:DST]"; files+=("$2"); shift ;;
	--module) [[ -n ${2-} ]] || die "--module needs a name"; modules+=("$2"); shift ;;
	--go-run) go_run=${2-}; shift ;;
	--accel) accel=${2-}; shift ;;
	--timeout) timeout=${2-}; shift ;;
	--mem) mem=${2-}; shift ;;
	--smp) smp=${2-}; shift ;;
	--no-enable) enable=none ;;
	--tmpfs-root) rootdisk=0 ;;
	--keep) keep=1 ;;
	-h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	cgroups | runtime) suites+=("$1") ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done
if ((${#suites[@]} == 0 && ${#runs[@]} == 0)); then
	suites=(cgroups runtime)
fi
[[ -z $accel || $accel == kvm || $accel == tcg ]] || die "--accel must be kvm or tcg"
[[ -z $timeout || $timeout =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"

t0=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-vmtest.XXXXXX")
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	if ((keep)); then
		log "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# need_packages installs the Debian packages the harness needs when they are
# missing (CI is root; see scripts/setup.sh for the rest of the toolchain).
need_packages() {
	local missing=() p
	for p in "$@"; do
		[[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	((EUID == 0)) || die "missing packages ${missing[*]} (run as root to install them)"
	log "installing ${missing[*]}"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}

# kernel_package names the image package linux-image-amd64 points at now.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

# fetch_kernel leaves Debian's kernel in $cache/<package>_<version>: the
# vmlinuz and the .deb (for modules). It only reads apt's lists and
# downloads the package; installing it would run initramfs and bootloader
# hooks on this host for nothing.
fetch_kernel() {
	local pkg ver dir tmp
	pkg=$(kernel_package)
	if [[ -z $pkg ]]; then
		apt-get update -q >/dev/null || true
		pkg=$(kernel_package)
	fi
	if [[ -z $pkg ]]; then
		# Offline and no apt lists: any kernel cached before will do.
		dir=$(find "$cache" -mindepth 2 -maxdepth 2 -name vmlinuz -printf '%h\n' 2>/dev/null | sort -V | tail -n 1)
		[[ -n $dir ]] || die "cannot resolve linux-image-amd64 with apt-cache, and no kernel is cached in $cache"
		kdir=$dir
		return
	fi
	ver=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" { print $2 }')
	kdir="$cache/${pkg}_$ver"
	if [[ -s $kdir/vmlinuz && -s $kdir/image.deb ]]; then
		# A cache from before the PVH vmlinux: extract it once.
		if [[ ! -e $kdir/vmlinux && ! -e $kdir/vmlinux.none ]]; then
			extract_vmlinux "$kdir/vmlinuz" "$kdir/vmlinux" || : >"$kdir/vmlinux.none"
		fi
		return
	fi
	log "downloading $pkg $ver"
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	# apt's sandbox user must be able to write the download directory.
	chmod 0777 "$tmp"
	if ! (cd "$tmp" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1); then
		# The lists are older than the mirror: refresh them once.
		apt-get update -q >/dev/null
		(cd "$tmp" && apt-get download -q "$pkg=$ver" >/dev/null) || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
	fi
	mv "$tmp"/*.deb "$tmp/image.deb"
	dpkg-deb --fsys-tarfile "$tmp/image.deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
	mv "$tmp"/boot/vmlinuz-* "$tmp/vmlinuz"
	rm -rf "${tmp:?}/boot"
	if ! extract_vmlinux "$tmp/vmlinuz" "$tmp/vmlinux"; then
		log "no PVH vmlinux in $pkg: booting the bzImage"
		: >"$tmp/vmlinux.none"
	fi
	rm -rf "$kdir"
	mv "$tmp" "$kdir"
	# Older kernels (and their 400MB of modules) are of no use any more.
	find "$cache" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -path "$kdir" -exec rm -rf {} +
}

# extract_vmlinux unpacks the ELF kernel from a bzImage whose payload is
# xz-compressed (Debian's), if it has a PVH entry point. QEMU boots such an
# ELF directly, skipping the firmware's real-mode path and the kernel's own
# decompressor: 3 of the 6 seconds a boot takes without KVM.
extract_vmlinux() {
	local off
	command -v xz >/dev/null && command -v readelf >/dev/null || return 1
	while IFS=: read -r off _; do
		tail -c +"$((off + 1))" "$1" | xz -dc 2>/dev/null >"$2.tmp" || true
		# Note type 0x12 is XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry point.
		if readelf -n "$2.tmp" 2>/dev/null | grep -q '0x00000012'; then
			mv "$2.tmp" "$2"
			return 0
		fi
	done < <(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1")
	rm -f "$2.tmp"
	return 1
}

# modules_root extracts the kernel package's modules once (about 400MB) and
# indexes them with busybox depmod, the format busybox modprobe reads.
modules_root() {
	if [[ -n ${BERTH_VM_KERNEL:-} ]]; then
		[[ -n ${BERTH_VM_MODULES:-} ]] || die "--module with BERTH_VM_KERNEL needs BERTH_VM_MODULES"
		echo "$BERTH_VM_MODULES"
		return
	fi
	if [[ ! -d $kdir/modules ]]; then
		local tmp
		tmp=$(mktemp -d "$kdir/.modules.XXXXXX")
		dpkg-deb --fsys-tarfile "$kdir/image.deb" | tar -x -C "$tmp" './lib/modules'
		busybox depmod -b "$tmp" "$(ls "$tmp/lib/modules")"
		mv "$tmp" "$kdir/modules"
	fi
	echo "$kdir/modules"
}

# add_modules copies each module and what it depends on into the initramfs.
add_modules() {
	local mroot kver dep m f
	mroot=$(modules_root)
	kver=$(ls "$mroot/lib/modules")
	dep="$mroot/lib/modules/$kver/modules.dep"
	mkdir -p "$root/lib/modules/$kver"
	cp "$dep" "$root/lib/modules/$kver/"
	for m in "${modules[@]}"; do
		f=$(awk -v m="$m" '{ k = $1; sub(":$", "", k); n = k; sub(".*/", "", n); sub("[.]ko.*$", "", n); gsub("-", "_", n); mm = m; gsub("-", "_", mm); if (n == mm) { for (i = 1; i <= NF; i++) { x = $i; sub(":$", "", x); print x }; exit } }' "$dep")
		[[ -n $f ]] || die "module $m is not in $kver"
		while read -r f; do
			mkdir -p "$root/lib/modules/$kver/$(dirname "$f")"
			cp "$mroot/lib/modules/$kver/$f" "$root/lib/modules/$kver/$f"
		done <<<"$f"
		echo "$m" >>"$root/etc/berth-vm/modules"
	done
}

# static_check fails when a binary needs a dynamic loader: the VM has none.
static_check() {
	command -v readelf >/dev/null || return 0
	if readelf -lW "$1" | grep -q 'Requesting program interpreter'; then
		die "$1 is dynamically linked"
	fi
}

need_packages qemu-system-x86 busybox-static
command -v go >/dev/null || die "go not found (Go 1.26 in /usr/local/go)"

if [[ -n ${BERTH_VM_KERNEL:-} ]]; then
	kernel=$BERTH_VM_KERNEL
	kdir=$(dirname "$kernel")
else
	fetch_kernel
	kernel=$kdir/vmlinuz
	if [[ -s $kdir/vmlinux ]]; then
		kernel=$kdir/vmlinux
	fi
fi
[[ -s $kernel ]] || die "no kernel at $kernel"
t_kernel=$SECONDS

# Accelerator: KVM only where it boots a stock kernel. Some hosts expose a
# /dev/kvm that cannot (PVM, the nested KVM of some cloud sandboxes, runs
# only guests built for it: QEMU aborts or the kernel hangs at once), so
# the first run probes and the answer is cached per host kernel, QEMU and
# guest kernel.
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot
	-m "$mem" -smp "$smp" -kernel "$kernel" -serial stdio)
cmdline="console=ttyS0 quiet panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all${BERTH_VM_EXTRA_CMDLINE:+ $BERTH_VM_EXTRA_CMDLINE}"

kvm_works() {
	[[ -e /dev/kvm ]] && { : <>/dev/kvm; } 2>/dev/null || return 1
	local key stamp probe out
	key="$(uname -r)_$(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }')_$(basename "$kdir")_$(stat -c '%s-%Y' "$kernel")"
	stamp="$cache/kvm-probe/$key"
	if [[ -f $stamp ]]; then
		[[ $(cat "$stamp") == ok ]]
		return
	fi
	log "probing whether KVM boots this kernel"
	probe=$work/probe
	mkdir -p "$probe"/{bin,dev}
	cp /bin/busybox "$probe/bin/busybox"
	mknod "$probe/dev/console" c 5 1
	printf '#!/bin/busybox sh\n/bin/busybox echo berth-vm-kvm-ok\n/bin/busybox poweroff -f\n' >"$probe/init"
	chmod 0755 "$probe/init"
	(cd "$probe" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$work/probe.gz"
	out=$(timeout --foreground -k 5 30 "${qemu[@]}" -accel kvm -cpu host -initrd "$work/probe.gz" \
		-append "console=ttyS0 quiet panic=-1" </dev/null 2>&1 || true)
	mkdir -p "$cache/kvm-probe"
	if [[ $out == *berth-vm-kvm-ok* ]]; then
		echo ok >"$stamp"
		return 0
	fi
	echo broken >"$stamp"
	log "KVM cannot boot this kernel here; QEMU said: $(tr -d '\r' <<<"$out" | grep -v '^$' | tail -n 2 | tr '\n' ' ')"
	return 1
}

if [[ -z $accel ]]; then
	accel=tcg
	kvm_works && accel=kvm
fi
if [[ $accel == kvm ]]; then
	qemu+=(-accel kvm -cpu host)
	: "${timeout:=300}"
else
	# Multi-threaded TCG; "max" gives the guest every feature QEMU emulates.
	qemu+=(-accel "tcg,thread=multi" -cpu max)
	# The guest's TSC check fails under emulation (the vCPU threads are
	# scheduled unevenly) and leaves it on HPET, every clock read a trap,
	# with the clocksource watchdog on top. TCG's TSC is one virtual clock
	# for all vCPUs, so trust it: Go reads the time through the vDSO again.
	cmdline+=" tsc=reliable"
	: "${timeout:=900}"
fi

# The initramfs tree.
root=$work/root
mkdir -p "$root"/{bin,etc/berth-vm,tests,usr/local/bin,proc,sys,dev,tmp,run,root,newroot,mnt}
cp /bin/busybox "$root/bin/busybox"
static_check "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[[ $a == busybox ]] || ln -s busybox "$root/bin/$a"
done
# The kernel opens /dev/console before /init runs.
mknod -m 0600 "$root/dev/console" c 5 1
install -m 0755 test/vm/init.sh "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
echo "$enable" >"$root/etc/berth-vm/enable"

# Tests: static binaries, since the VM has no libc. The Go test binaries need
# no cgo; berth-runtime does (its nsenter constructor), so glibc is linked in
# statically, with the pure-Go resolver and user lookup so that nothing wants
# NSS modules at run time.
# The Go tests time out (with every goroutine's stack) before the VM does.
targs=(-test.v -test.count=1 "-test.timeout=$((timeout > 120 ? timeout - 60 : timeout / 2))s")
[[ -n $go_run ]] && targs+=("-test.run=$go_run")
printf -v targs_q '%q ' "${targs[@]}"
tests=$root/etc/berth-vm/tests
: >"$tests"
for s in "${suites[@]}"; do
	case $s in
	cgroups)
		log "building cgroups.test"
		CGO_ENABLED=0 go test -c -trimpath -ldflags='-s -w' -o "$root/tests/cgroups.test" ./internal/runtime/cgroups
		static_check "$root/tests/cgroups.test"
		printf 'cgroups\t./cgroups.test %s\n' "$targs_q" >>"$tests"
		;;
	runtime)
		log "building berth-runtime (static) and guest.test"
		CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo -ldflags='-s -w -extldflags -static' \
			-o "$root/usr/local/bin/berth-runtime" ./cmd/berth-runtime
		static_check "$root/usr/local/bin/berth-runtime"
		CGO_ENABLED=0 go test -c -trimpath -ldflags='-s -w' -o "$root/tests/guest.test" ./integration/vm/guest
		static_check "$root/tests/guest.test"
		printf 'runtime\tBERTH_VM_GUEST=1 BERTH_RUNTIME=/usr/local/bin/berth-runtime ./guest.test %s\n' "$targs_q" >>"$tests"
		;;
	esac
done
for r in "${runs[@]}"; do
	printf '%s\t%s\n' "${r%%=*}" "${r#*=}" >>"$tests"
done
for f in "${files[@]}"; do
	src=${f%%:*}
	dst=/tests/$(basename "$src")
	[[ $f == *:* ]] && dst=${f#*:}
	mkdir -p "$root/$(dirname "$dst")"
	cp -a "$src" "$root/$dst"
done
if ((rootdisk)) && [[ -n ${BERTH_VM_KERNEL:-} && -z ${BERTH_VM_MODULES:-} ]]; then
	log "BERTH_VM_KERNEL without BERTH_VM_MODULES: / on a tmpfs"
	rootdisk=0
fi
if ((rootdisk)); then
	# / on a 256MiB ramdisk (brd allocates as it is written) with ext2.
	modules+=(brd crc32c_generic ext4)
	echo $((256 << 10)) >"$root/etc/berth-vm/rootdisk"
fi
((${#modules[@]} == 0)) || add_modules
t_build=$SECONDS

echo "$((timeout - 30 > 60 ? timeout - 30 : 60))" >"$root/etc/berth-vm/timeout"

(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$work/initramfs.gz"
t_image=$SECONDS
log "kernel $(basename "$kdir"), accel $accel, initramfs $(du -h "$work/initramfs.gz" | cut -f1), timeout ${timeout}s"

serial=$work/serial.log
set +e
# --foreground keeps QEMU in our process group, so whoever kills us (go
# test, on its deadline) kills it too.
# tee, unlike tr, does not buffer: the console shows up as it comes. Line
# ends are \r\n; the parsing below drops the \r.
timeout --foreground -k 10 "$timeout" "${qemu[@]}" -initrd "$work/initramfs.gz" -append "$cmdline" </dev/null 2>&1 |
	tee "$serial.raw"
qstatus=${PIPESTATUS[0]}
tr -d '\r' <"$serial.raw" >"$serial"
set -e
t_vm=$SECONDS

echo
echo "==> vmtest summary"
status=0
if ((qstatus == 124 || qstatus == 137)); then
	echo "FAIL  the VM did not finish within ${timeout}s"
	status=1
elif ((qstatus != 0)); then
	echo "FAIL  qemu exited with status $qstatus"
	status=1
fi
# Every listed test must have begun and ended, and passed. Markers are
# matched anywhere in a line: output without a final newline (the
# firmware's, a test's) may come before them.
while IFS=$'\t' read -r name _; do
	line=$(grep -ao "@@berth-vm end $name .*" "$serial" | tail -n 1 || true)
	if [[ -z $line ]]; then
		if grep -aq "@@berth-vm begin $name\$" "$serial"; then
			echo "FAIL  $name (did not finish)"
		else
			echo "FAIL  $name (did not start)"
		fi
		status=1
		continue
	fi
	rc=${line##*status=}
	rc=${rc%% *}
	secs=${line##*seconds=}
	if [[ $rc == 0 ]]; then
		echo "ok    $name (${secs}s)"
	else
		echo "FAIL  $name (exit status $rc, ${secs}s)"
		status=1
	fi
done <"$root/etc/berth-vm/tests"
done_line=$(grep -ao '@@berth-vm done .*' "$serial" | tail -n 1 || true)
if [[ -z $done_line ]]; then
	echo "FAIL  no completion marker: the VM's init died, the kernel panicked or the VM timed out"
	status=1
elif [[ $done_line != *"status=0 "* ]]; then
	status=1
fi
boot=$(sed -n 's/.*@@berth-vm boot uptime=\([0-9.]*\).*/\1/p' "$serial" | head -n 1)
echo "time: kernel $((t_kernel - t0))s, build $((t_build - t_kernel))s, image $((t_image - t_build))s," \
	"vm $((t_vm - t_image))s (guest boot ${boot:-?}s, $accel), total $((t_vm - t0))s"
if ((status)); then
	echo "vmtest: FAILED"
	keep=1
else
	echo "vmtest: ok"
fi
exit "$status"
