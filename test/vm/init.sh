#!/bin/sh
# shellcheck shell=sh
# /init of the Berth test VM (see README.md beside this file). The kernel
# runs it as pid 1 from the initramfs that scripts/vmtest.sh builds; busybox
# ash interprets it.
#
# Stage 1 moves everything to a tmpfs and switch_roots into it, because
# pivot_root(2), which the runtime uses for every container, refuses to move
# the initramfs's rootfs (it has no parent mount). Stage 2 sets the machine up
# the way systemd leaves a pure cgroup v2 host, runs each test listed in
# /etc/berth-vm/tests, prints the results between markers the host parses,
# and powers off. A failure of this script itself is a test failure too: the
# host sees no "done" marker.

PATH=/usr/local/bin:/bin
HOME=/root
export PATH HOME

marker() { echo "@@berth-vm $*"; }

if [ "${1-}" != stage2 ]; then
	# The new root is a real block device when the host shipped the
	# modules for it: a ramdisk (brd) with ext2, so that "/" has a whole
	# disk behind it for the io controller's per-device limits. Otherwise
	# a tmpfs.
	size=$(cat /etc/berth-vm/rootdisk 2>/dev/null)
	if [ -n "$size" ]; then
		mount -t devtmpfs devtmpfs /dev
		# ext4 asks the crypto API for crc32c, a dependency modules.dep
		# does not list.
		modprobe brd rd_nr=1 rd_size="$size" max_part=0 &&
			modprobe crc32c_generic &&
			modprobe ext4 &&
			mke2fs /dev/ram0 >/dev/null &&
			mount -t ext2 /dev/ram0 /newroot ||
			size=
		umount /dev
	fi
	if [ -z "$size" ]; then
		mount -t tmpfs -o mode=0755 tmpfs /newroot || exec sh
	fi
	for e in /*; do
		case $e in /newroot | /proc | /sys | /dev) ;; *) cp -a "$e" /newroot/ ;; esac
	done
	mkdir -p /newroot/proc /newroot/sys /newroot/dev
	exec switch_root /newroot /init stage2
fi

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
# Not nodev: the tests make device nodes in bundles under /tmp.
mount -t tmpfs -o nosuid,mode=1777 tmpfs /tmp
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
# systemd's options for the unified hierarchy, and its shared root.
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
mount --make-rshared /
hostname berth-vm
ip link set lo up 2>/dev/null

# Only errors reach the console during the tests (the OOM killer's one
# line, lockup and stall reports), not the chatter that would split the
# tests' output lines; the whole log is printed at the end if a test failed.
dmesg -n 4

# Modules from the kernel package, when the host shipped any.
if [ -s /etc/berth-vm/modules ]; then
	while read -r mod; do
		modprobe "$mod" || marker "warning: modprobe $mod failed"
	done </etc/berth-vm/modules
fi

cg=/sys/fs/cgroup
marker "boot uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r) root=$(awk '$2 == "/" { d = $1 " " $3 } END { print d }' /proc/mounts)"
marker "controllers: $(cat $cg/cgroup.controllers)"

# Like systemd: every controller enabled at the root and in system.slice,
# pid 1 in init.scope, each test in a service cgroup of its own. The tests so
# run from a cgroup that holds processes, under a parent that holds none, as
# a runtime started by a service does.
if [ "$(cat /etc/berth-vm/enable 2>/dev/null)" != none ]; then
	read -r avail <$cg/cgroup.controllers
	for c in $avail; do
		echo "+$c" >$cg/cgroup.subtree_control || marker "warning: cannot enable $c at the root"
	done
fi
mkdir -p $cg/init.scope $cg/system.slice
echo $$ >$cg/init.scope/cgroup.procs
if [ "$(cat /etc/berth-vm/enable 2>/dev/null)" != none ]; then
	read -r avail <$cg/system.slice/cgroup.controllers
	for c in $avail; do
		echo "+$c" >$cg/system.slice/cgroup.subtree_control || marker "warning: cannot enable $c in system.slice"
	done
fi
marker "root subtree_control: $(cat $cg/cgroup.subtree_control)"

timeout=$(cat /etc/berth-vm/timeout 2>/dev/null || echo 600)

# diagnose prints what a hung test is doing: its processes, where each one
# sleeps in the kernel, and every frozen or populated cgroup. A test's own
# timeout cannot fire if its cgroup is frozen, so this runs from init.scope.
diagnose() {
	marker "diagnostics for $1"
	ps -o pid,ppid,stat,args
	for p in /proc/[0-9]*; do
		[ -r "$p/wchan" ] && printf '%s %s %s\n' "${p#/proc/}" "$(cat "$p/wchan" 2>/dev/null)" "$(cut -d' ' -f1 "$p/cgroup" 2>/dev/null)"
	done | awk '$2 != "0" && $2 != ""'
	find $cg -name cgroup.events | while read -r e; do
		grep -q 'frozen 1' "$e" && echo "frozen: ${e%/cgroup.events}"
	done
	find $cg -name cgroup.procs | while read -r f; do
		[ -s "$f" ] && echo "procs in ${f%/cgroup.procs}: $(tr '\n' ' ' <"$f")"
	done
	dmesg | tail -n 30
	marker "end of diagnostics"
}
status=0
passed=0
failed=0
tab=$(printf '\t')
# One test per line: name, a tab, a shell command run in /tests.
while IFS="$tab" read -r name cmd; do
	[ -n "$name" ] || continue
	svc=$cg/system.slice/berth-vm-$name.service
	mkdir -p "$svc"
	start=$(cut -d' ' -f1 /proc/uptime)
	marker "begin $name"
	# The test's own shell joins the service cgroup before it execs the
	# command, so everything it starts is accounted there.
	# shellcheck disable=SC2016 # expanded by that shell
	timeout -s KILL "$timeout" sh -c 'echo $$ >"$1/cgroup.procs" && cd /tests && exec sh -c "$2"' \
		sh "$svc" "$cmd" </dev/null 2>&1 &
	test=$!
	(sleep $((timeout - 20)) && diagnose "$name") &
	watchdog=$!
	wait $test
	rc=$?
	kill $watchdog 2>/dev/null
	end=$(cut -d' ' -f1 /proc/uptime)
	marker "end $name status=$rc seconds=$(awk "BEGIN{print $end - $start}")"
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		status=1
	fi
	# Whatever a test left behind must not disturb the next one.
	echo 1 >"$svc/cgroup.kill" 2>/dev/null
	rmdir "$svc" 2>/dev/null
done </etc/berth-vm/tests

if [ "$status" -ne 0 ]; then
	marker "kernel log (last 60 lines):"
	dmesg | tail -n 60
fi
marker "done status=$status passed=$passed failed=$failed uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
