#!/usr/bin/env bash
# Container filesystem benchmarks (issue 6), berthd against dockerd
# (Debian's docker.io) in one run on one disk, through the docker CLI:
#
#   cp-in       docker cp of a 200 MB directory tree into a running container
#   cp-out      docker cp of that tree out of the container to the host's disk
#   commit      docker commit of a running container whose layer holds a
#               200 MB change (the same tree), pause included (docker's default)
#   --stopped   also cp-in and cp-out with a stopped container
#
# hyperfine medians and the ratios Berth/dockerd (goal: at most 1, "at most
# docker's time").
#
# usage: bench/volumes.sh [--runs N] [--size MB] [--stopped] [--json FILE] [--keep]
#
#   --runs N     timed runs per operation and engine (default 5, one warm-up)
#   --size MB    size of the tree (default 200)
#   --stopped    also time cp in and out of a stopped container
#   --json FILE  also write the results as JSON (times in seconds)
#   --keep       keep the work directory
#
# Each engine runs on its own socket, data root (under /var/tmp, a real
# disk) and exec root (under /run), without a default bridge nor firewall
# rules (the containers have --network none): dockerd with
# --iptables=false --ip6tables=false --bridge=none as bench/engine.sh
# starts it, berthd with --bridge=none --iptables=false; both are stopped
# at the end. Every timed run starts from the same state:
# the copy's destination removed (and `sync`) before a cp, the previous
# commit's image removed before a commit (else a store could reuse the
# layer it already has). The tree is 40 directories of 20 files of random
# bytes (from 1/4 to 7/4 of 250 KB) and a few small files, so
# per-file costs show as well as throughput.
#
# Needs root, make/go, hyperfine, jq, curl, the docker CLI and dockerd
# (apt-get install docker.io, with a policy-rc.d that exits 101 so no
# service starts). Not part of CI: it writes a few GB and loads both cores.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "volumes-bench: $*" >&2
	exit 2
}
say() { echo "volumes-bench: $*" >&2; }

runs=5
size=200
stopped=0
json=""
keep=0
while (($#)); do
	case "$1" in
	--runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs needs a number"; runs=$2; shift 2 ;;
	--size) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--size needs a number of MB"; size=$2; shift 2 ;;
	--stopped) stopped=1; shift ;;
	--json) [[ $# -ge 2 ]] || die "--json needs a file"; json=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
done

((EUID == 0)) || die "must run as root"
# shellcheck source=scripts/env.sh
. "$repo/scripts/env.sh"
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
docker=/usr/local/bin/docker
[[ -x $docker ]] || docker=$(command -v docker || true)
for tool in go make hyperfine jq curl dockerd "$docker"; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs the tools; dockerd: apt-get install docker.io)"
done

say "building"
make -C "$repo" build >&2
[[ -x $repo/bin/berthd ]] || die "no $repo/bin/berthd after make"

work=$(mktemp -d /var/tmp/berth-volbench.XXXXXX)
run=$(mktemp -d /run/berth-volbench.XXXXXX)
prefix=bv$((RANDOM % 1000))
pids=()
cleanup() {
	set +e
	stop_engines "${pids[@]}"
	kill_leftovers
	release_engine_host "$prefix" "$work/" "$run/"
	if ((keep)); then
		say "kept $work and $run"
	else
		rm -rf "$work" "$run"
	fi
}
kill_leftovers() { kill_engine_leftovers "$prefix" "$work/" "$run/"; }
trap cleanup EXIT


# The tree: 40 directories of 20 files whose sizes vary around the mean
# that makes $size MB, plus a few small files and a symlink.
say "making a $size MB tree"
tree=$work/tree
files=800
mean=$((size * 1000 * 1000 / files))
for d in $(seq -w 1 40); do
	mkdir -p "$tree/d$d"
	for f in $(seq -w 1 20); do
		# 1/4, 2/4 .. 7/4 of the mean in turn, in 4 KiB blocks.
		n=$(((1 + (10#$d * 20 + 10#$f) % 7) * mean / 4 / 4096))
		head -c $((n * 4096)) /dev/urandom >"$tree/d$d/f$f"
	done
	echo "small $d" >"$tree/d$d/README"
	ln -s "f01" "$tree/d$d/link"
done
tree_bytes=$(du -sb "$tree" | awk '{print $1}')
say "tree: $((tree_bytes / 1000000)) MB in $(find "$tree" -type f | wc -l) files"

# berthd on its own roots.
bsock=$work/berth.sock
mkdir -p "$work/berth/data" "$run/berth"
echo '{}' >"$work/berth/daemon.json"
"$repo/bin/berthd" --config-file "$work/berth/daemon.json" --data-root "$work/berth/data" \
	--exec-root "$run/berth" -H "unix://$bsock" --pidfile "$work/berth/berthd.pid" \
	--resource-prefix "$prefix" --bridge=none --iptables=false >"$work/berthd.log" 2>&1 &
pids+=("$!")
wait_ping "$bsock" "$work/berthd.log"
"$repo/scripts/mkbusybox.sh" -H "unix://$bsock" --cli "$docker"

# dockerd on its own roots; no iptables, no bridge.
dsock=$work/docker.sock
mkdir -p "$work/docker/data" "$run/docker"
echo '{}' >"$work/docker/daemon.json"
dockerd --config-file "$work/docker/daemon.json" --data-root "$work/docker/data" \
	--exec-root "$run/docker" -H "unix://$dsock" --pidfile "$work/docker/dockerd.pid" \
	--iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
	--cgroup-parent "/$prefix-docker" --storage-driver overlay2 >"$work/dockerd.log" 2>&1 &
pids+=("$!")
wait_ping "$dsock" "$work/dockerd.log"
"$repo/scripts/mkbusybox.sh" -H "unix://$dsock" --cli "$docker"
docker_version=$("$docker" -H "unix://$dsock" version --format '{{.Server.Version}}')
berth_version=$("$docker" -H "unix://$bsock" version --format '{{.Server.Version}}')

# time_op NAME ENGINE PREPARE COMMAND: hyperfine, one warm-up; the
# results go to $work/NAME-ENGINE.json.
time_op() {
	local name=$1 engine=$2 prepare=$3 cmd=$4
	say "timing $name on $engine"
	hyperfine --runs "$runs" --warmup 1 --style basic --command-name "$name-$engine" \
		--prepare "$prepare" --export-json "$work/$name-$engine.json" "$cmd" >&2
}

ops=(cp-in cp-out commit)
((stopped)) && ops+=(cp-in-stopped cp-out-stopped)
for engine in berthd dockerd; do
	sock=$bsock
	[[ $engine == dockerd ]] && sock=$dsock
	d="$docker -H unix://$sock"
	$d run -d --network none --name bench-cp busybox sleep 1000000 >/dev/null
	$d run -d --network none --name bench-commit busybox sleep 1000000 >/dev/null
	$d cp "$tree" bench-commit:/data
	out=$work/out-$engine

	time_op cp-in "$engine" "$d exec bench-cp rm -rf /in && sync" "$d cp $tree bench-cp:/in"
	# The check: what went in is what the tree holds.
	$d cp bench-cp:/in "$out"
	diff -r "$tree" "$out" >/dev/null || die "$engine: the tree copied in and out differs from the original"
	time_op cp-out "$engine" "rm -rf $out && sync" "$d cp bench-cp:/in $out"
	time_op commit "$engine" "$d rmi -f bench-committed >/dev/null 2>&1; sync" "$d commit bench-commit bench-committed"
	[[ $($d run --rm --network none bench-committed sh -c 'du -sk /data' | awk '{print $1}') -ge $((tree_bytes * 9 / 10 / 1024)) ]] ||
		die "$engine: the committed image lacks the change"
	if ((stopped)); then
		$d stop -t 1 bench-cp >/dev/null
		# The destination goes with a start, an exec and a stop, untimed.
		time_op cp-in-stopped "$engine" "$d start bench-cp >/dev/null && $d exec bench-cp rm -rf /in2 && $d stop -t 0 bench-cp >/dev/null && sync" "$d cp $tree bench-cp:/in2"
		time_op cp-out-stopped "$engine" "rm -rf $out && sync" "$d cp bench-cp:/in $out"
	fi
	$d rm -f bench-cp bench-commit >/dev/null
done

median() { jq '.results[0].median' "$work/$1.json"; }
report=$(
	for op in "${ops[@]}"; do
		jq -n --arg op "$op" --argjson berthd "$(median "$op-berthd")" --argjson dockerd "$(median "$op-dockerd")" \
			'{op: $op, berthd: $berthd, dockerd: $dockerd, ratio: ($berthd / $dockerd)}'
	done | jq -s --arg v_berth "$berth_version" --arg v_docker "$docker_version" --argjson runs "$runs" \
		--argjson bytes "$tree_bytes" \
		'{benchmark: "container filesystem: cp in, cp out, commit of a tree", tree_bytes: $bytes, runs: $runs,
		  versions: {berthd: $v_berth, dockerd: $v_docker}, median_seconds: .}'
)
echo
jq -r '"tree \(.tree_bytes / 1000000 | round) MB, median of \(.runs) runs (s), goal berthd/dockerd <= 1:",
	(.median_seconds[] | "  \(.op): berthd \(.berthd * 1000 | round / 1000), dockerd \(.dockerd * 1000 | round / 1000), berthd/dockerd \(.ratio * 100 | round / 100)")' <<<"$report"
if [[ -n $json ]]; then
	printf '%s\n' "$report" >"$json"
fi
