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
