#!/usr/bin/env bash
# Container start benchmark: `RUNTIME run` of `true` from one prepared bundle,
# timed with hyperfine for Berth and runc (and crun, on request) in the same
# run on the same machine, then reported as a table and as ratios.
#
# usage: bench/runtime.sh [--with-crun] [--json FILE] [--runs N] [--warmup N]
#                         [--berth PATH] [--pauses "0 200"]
#
#   --with-crun   also time crun, last. On a hybrid cgroup host whose hugetlb
#                 controller sits on cgroup2, crun 1.8 needs hugetlb mounted as
#                 its own v1 hierarchy: this flag mounts it for crun's series,
#                 which moves the controller off cgroup2 meanwhile, and
#                 unmounts it at the end. Not while others test on the host.
#   --json FILE   also write the results as JSON (times in seconds)
#   --runs N      timed runs per runtime (default 50)
#   --warmup N    untimed runs first (default 5)
#   --berth PATH  Berth's runtime binary (default: bin/berth-runtime)
#   --pauses LIST milliseconds of idle time before each timed run, one
#                 series per value (default "0 200"). 0 is a tight loop;
#                 200 is a host where containers start now and then: the
#                 kernel's cgroup threadgroup lock has gone idle, and moving
#                 a process into a cgroup (runc, crun) waits for an RCU
#                 grace period again, which a tight loop mostly hides.
#
# Needs root, go, hyperfine, jq, runc and busybox-static (scripts/setup.sh
# installs them all). Not part of CI.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "bench: $*" >&2
	exit 2
}

usage() {
	sed -n '6,17s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

with_crun=0
json=""
runs=50
warmup=5
berth=$repo/bin/berth-runtime
pauses="0 200"
while (($#)); do
	case "$1" in
	--with-crun) with_crun=1; shift ;;
	--json) [[ $# -ge 2 ]] || die "--json needs a file"; json=$2; shift 2 ;;
	--runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs needs a number"; runs=$2; shift 2 ;;
	--warmup) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--warmup needs a number"; warmup=$2; shift 2 ;;
	--berth) [[ $# -ge 2 ]] || die "--berth needs a path"; berth=$2; shift 2 ;;
	--pauses) [[ ${2:-} =~ ^[0-9]+( [0-9]+)*$ ]] || die "--pauses needs numbers"; pauses=$2; shift 2 ;;
	-h | --help) usage ;;
	*) die "unknown argument $1" ;;
	esac
done

((EUID == 0)) || die "must run as root"
for tool in go hyperfine jq runc; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh"
done
((with_crun == 0)) || command -v crun >/dev/null || die "crun not found: run scripts/setup.sh"

# Bundle and state on tmpfs so that disk noise does not blur a ~10 ms signal.
work=$(mktemp -d /run/berth-bench.XXXXXX)
declare -A state_of=()
cleanup() {
	local name id
	for name in "${!state_of[@]}"; do
		for id in "bench-$name" "check-$name"; do
			"${runtime_of[$name]}" --root "${state_of[$name]}" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$work"
	((hugetlb_mounted == 0)) || restore_hugetlb
}
declare -A runtime_of=()
hugetlb_mounted=0
crun_left_out=0

# restore_hugetlb gives the hugetlb controller back to cgroup2: it removes
# the cgroups crun left in the v1 hierarchy mounted for it and unmounts it.
# The hierarchy ends some seconds after its unmount, once the cgroups crun
# made are freed; if it lingers, a mount and unmount with none left ends it.
restore_hugetlb() {
	local dir=/sys/fs/cgroup/hugetlb tmp tries
	find "$dir" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
	if ! { umount "$dir" && rmdir "$dir"; }; then
		echo "bench: WARNING: could not unmount $dir: hugetlb stays off cgroup2" >&2
		return 0
	fi
	for ((tries = 0; tries < 60; tries++)); do
		hugetlb_on_v1 || return 0
		if ((tries == 40)); then
			tmp=$(mktemp -d)
			mount -t cgroup -o hugetlb cgroup "$tmp" && umount "$tmp"
			rmdir "$tmp"
		fi
		sleep 0.5
	done
	echo "bench: WARNING: the hugetlb v1 hierarchy outlived its mount by 30 s: hugetlb stays off cgroup2" >&2
}

# hugetlb_on_v1 reports whether the kernel still has hugetlb on a v1
# hierarchy (/proc/cgroups: hierarchy 0 is cgroup2).
hugetlb_on_v1() {
	awk '$1 == "hugetlb" && $2 != 0 { found = 1 } END { exit !found }' /proc/cgroups
}
trap cleanup EXIT

# One bundle for every runtime: the tests' busybox rootfs and `runc spec`'s
# default config (pid, network, ipc, uts, mount and cgroup namespaces),
# running `true` without a terminal on a writable root.
bundle=$work/bundle
mkdir "$bundle"
(cd "$repo" && go run ./bench/mkrootfs "$bundle/rootfs") || die "building the rootfs failed"
(cd "$bundle" && runc spec)
jq '.process.args = ["true"] | .process.terminal = false | .root.readonly = false' \
	"$bundle/config.json" >"$work/config.json"
mv "$work/config.json" "$bundle/config.json"

# A second bundle over the same rootfs proves a runtime really runs the
# container before it is timed: a stub that exits 0 would look very fast.
check=$work/check
mkdir "$check"
jq --arg root "$bundle/rootfs" '.root.path = $root | .process.args = ["echo", "berth-bench-ok"]' \
	"$bundle/config.json" >"$check/config.json"

names=()
declare -A skipped=()

# bench_runtime NAME BINARY times BINARY's `run` of the bundle, once per
# pause; each series is named NAME@PAUSEms.
bench_runtime() {
	local name=$1 bin=$2 state out pause
	if [[ ! -x $bin ]]; then
		skipped[$name]="$bin not found (run make first)"
		return
	fi
	state=$work/state-$name
	mkdir "$state"
	runtime_of[$name]=$bin
	state_of[$name]=$state
	local rc=0
	out=$("$bin" --root "$state" run --bundle "$check" "check-$name" 2>&1 </dev/null) || rc=$?
	if ((rc != 0)) || [[ $out != berth-bench-ok ]]; then
		skipped[$name]="its check run (echo berth-bench-ok) exited $rc and printed \"$(head -c 300 <<<"$out")\""
		return
	fi
	# The same id every run: `run` deletes the container when it exits, and a
	# failed run stops hyperfine before the id could clash.
	local cmd
	cmd=$(printf '%q ' "$bin" --root "$state" run --bundle "$bundle" "bench-$name")
	for pause in $pauses; do
		echo "bench: timing $name, ${pause} ms idle before each run ($("$bin" --version 2>/dev/null | head -n1))" >&2
		local prepare=()
		((pause == 0)) || prepare=(--prepare "sleep $(awk -v p="$pause" 'BEGIN { printf "%.3f", p / 1000 }')")
		hyperfine -N --warmup "$warmup" --runs "$runs" --style basic "${prepare[@]}" \
			--command-name "$name@${pause}ms" --export-json "$work/$name@$pause.json" "$cmd" </dev/null >&2
		names+=("$name@$pause")
	done
}

bench_runtime berth "$berth"
bench_runtime runc "$(command -v runc)"

# hugetlb_needs_v1_mount reports whether crun would refuse this host: a hybrid
# layout (tmpfs at /sys/fs/cgroup) whose hugetlb controller is not mounted as
# a v1 hierarchy.
hugetlb_needs_v1_mount() {
	[[ $(stat -f -c %T /sys/fs/cgroup) == tmpfs ]] || return 1
	# No grep -q: with pipefail, an early exit could fail the pipeline.
	! findmnt -rn -t cgroup -o OPTIONS | tr ',' '\n' | grep -x hugetlb >/dev/null
}

if ((with_crun)); then
	if hugetlb_needs_v1_mount; then
		cat >&2 <<-'EOF'
			bench: WARNING: crun 1.8 refuses this hybrid cgroup layout unless hugetlb is
			bench: WARNING: its own v1 hierarchy. Mounting it at /sys/fs/cgroup/hugetlb for
			bench: WARNING: crun's series: the hugetlb controller leaves cgroup2 until the end.
		EOF
		mkdir -p /sys/fs/cgroup/hugetlb
		if mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb; then
			hugetlb_mounted=1
		else
			rmdir /sys/fs/cgroup/hugetlb
			# The kernel moves a controller only while no cgroup2 cgroup
			# uses it: a running berthd (or a test) enables hugetlb in
			# the cgroup2 root's subtree_control for its containers.
			echo "bench: WARNING: could not mount hugetlb as a v1 hierarchy (cgroup2's subtree_control: $(cat /sys/fs/cgroup/unified/cgroup.subtree_control 2>/dev/null)); stop every berthd and write -hugetlb there to time crun. crun is left out." >&2
			crun_left_out=1
		fi
	fi
	((crun_left_out)) || bench_runtime crun "$(command -v crun)"
fi

# Results: one object per timed series (runtime@pause), in seconds as
# hyperfine reports.
results=$(
	for series in "${names[@]}"; do
		name=${series%@*}
		jq -c --arg series "${name}@${series#*@}ms" --arg version "$("${runtime_of[$name]}" --version 2>/dev/null | head -n1)" \
			'.results[0] | {name: $series, version: $version, mean, median, stddev, min, max, runs: (.times | length)}' \
			"$work/$series.json"
	done | jq -s 'map({(.name): del(.name)}) | add // {}'
)
ratio() { # ratio A B: A's mean over B's, or null when either is missing
	jq -n --argjson r "$results" --arg a "$1" --arg b "$2" \
		'if $r[$a] and $r[$b] then ($r[$a].mean / $r[$b].mean) else null end'
}
ratios=$(for pause in $pauses; do
	for other in runc crun; do
		jq -cn --arg k "berth/$other@${pause}ms" --argjson v "$(ratio "berth@${pause}ms" "$other@${pause}ms")" '{($k): $v}'
	done
done | jq -s 'add // {}')
skipped_json=$(for name in "${!skipped[@]}"; do
	jq -cn --arg n "$name" --arg why "${skipped[$name]}" '{($n): $why}'
done | jq -s 'add // {}')
report=$(jq -n --argjson r "$results" --argjson skipped "$skipped_json" --argjson ratios "$ratios" \
	--arg kernel "$(uname -r)" --argjson cpus "$(nproc)" --argjson runs "$runs" --argjson warmup "$warmup" \
	'{benchmark: "run of true from one bundle", host: {kernel: $kernel, cpus: $cpus},
	  runs: $runs, warmup: $warmup, runtimes: $r, skipped: $skipped, ratios: $ratios}')

echo
printf '%-14s %10s %10s %10s %10s %10s  %s\n' series mean median stddev min max version
jq -r '.runtimes | to_entries[] | [.key, (.value | .mean, .median, .stddev, .min, .max | . * 1000), .value.version] | @tsv' \
	<<<"$report" | while IFS=$'\t' read -r name mean median stddev min max version; do
	printf '%-14s %7.2f ms %7.2f ms %7.2f ms %7.2f ms %7.2f ms  %s\n' "$name" "$mean" "$median" "$stddev" "$min" "$max" "$version"
done
jq -r '.skipped | to_entries[] | "\(.key): not timed: \(.value)"' <<<"$report"
jq -r '.ratios | to_entries[] | select(.value != null) | "\(.key) (mean): \(.value * 100 | round / 100 | tostring)"' <<<"$report"
echo "(a ratio below 1 means Berth starts containers faster)"

if [[ -n $json ]]; then
	printf '%s\n' "$report" >"$json"
	echo "bench: wrote $json" >&2
fi
