# shellcheck shell=bash
# Sourced by the engine benchmarks (engine.sh, network.sh, volumes.sh): what
# they all do to start engines and to clean up after them. The caller
# defines die.

# wait_ping SOCKET LOG: waits (60 s at most) for an engine to answer
# GET /_ping on its unix socket; dies with the end of its log otherwise.
wait_ping() {
	for _ in $(seq 600); do
		[[ $(curl -fsS --max-time 2 --unix-socket "$1" http://d/_ping 2>/dev/null) == OK ]] && return 0
		sleep 0.1
	done
	tail -n 30 "$2" >&2
	die "no answer on $1 after 60 s"
}

# kill_engine_leftovers PREFIX PATH...: ends, by pid, what the engines left:
# shims, runtimes and containerd name one of the PATHs (the work
# directories) in their arguments; containers sit in the cgroups PREFIX and
# PREFIX-docker.
kill_engine_leftovers() {
	local prefix=$1 f pid c p
	shift
	local patterns=()
	for p in "$@"; do
		patterns+=(-e "$p")
	done
	# Three rounds: a process may have been forking during the last one.
	for _ in 1 2 3; do
		for f in /proc/[0-9]*/cmdline; do
			pid=${f#/proc/}
			pid=${pid%/cmdline}
			[[ $pid == "$$" ]] && continue
			if { tr '\0' '\n' <"$f"; } 2>/dev/null | grep -qF "${patterns[@]}"; then
				kill -KILL "$pid" 2>/dev/null
			fi
		done
		for c in /sys/fs/cgroup/*/"$prefix" /sys/fs/cgroup/*/"$prefix-docker"; do
			[[ -d $c ]] || continue
			find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
				kill -KILL "$pid" 2>/dev/null
			done
		done
		sleep 0.2
	done
}

# stop_engines PID...: asks each engine to stop (SIGTERM), waits up to 20 s
# for each, then kills what is left.
stop_engines() {
	local p
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "$@"; do
		for _ in $(seq 200); do
			kill -0 "$p" 2>/dev/null || break
			[[ $(ps -o stat= -p "$p" 2>/dev/null) == Z* ]] && break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
}

# release_engine_host PREFIX PATH...: after kill_engine_leftovers, takes
# down what the engines left on the host: mounts below the PATHs (deepest
# first), the cgroups PREFIX and PREFIX-docker, and Berth's nftables
# tables named PREFIX or PREFIX-*.
release_engine_host() {
	local prefix=$1 p m c
	shift
	local patterns=()
	for p in "$@"; do
		patterns+=(-e " $p")
	done
	grep -F "${patterns[@]}" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m"
	done
	for c in /sys/fs/cgroup/*/"$prefix" /sys/fs/cgroup/*/"$prefix-docker"; do
		[[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	nft list tables 2>/dev/null | awk -v p="$prefix" '$3 == p || index($3, p "-") == 1 {print $2, $3}' | while read -r fam name; do
		nft delete table "$fam" "$name"
	done
}
