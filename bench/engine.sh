#!/usr/bin/env bash
# Engine benchmarks (issue 4), all with --network none, in one run:
#
#   1. start: `docker run --rm --network none busybox true` through the docker
#      CLI against berthd and against dockerd (Debian docker.io), and
#      `podman run --rm --network none --runtime runc busybox true`;
#      hyperfine medians and the ratios Berth/dockerd (goal <= 0.1) and
#      Berth/podman (goal <= 0.2). The docker CLI's own start-up
#      (`docker --version`) is timed too, for reference, and so is the
#      floor: the same `docker run --rm` against bench/clifloor, an engine
#      that answers instantly (what the docker CLI alone costs that
#      command, and so the least any engine can take through it).
#   2. idle memory: berthd's RSS with no containers (goal <= 30 MiB), beside
#      dockerd + containerd's.
#   3. density: N (default 1000) x `docker run -d --network none busybox
#      sleep 3600` against berthd: all must run, in <= 60 s, using <= 1 MiB
#      of host memory each (the drop of MemAvailable, with the free pages on
#      the per-CPU lists, over all of them: shims and kernel objects
#      included); then `docker rm -f` of all (goal <= 5 s
#      per 500). --density-dockerd and --density-podman do the same
#      against dockerd and podman (whose conmon per container is counted
#      the same way: the drop of MemAvailable).
#
# usage: bench/engine.sh [--runs N] [--containers N] [--parallel P]
#                        [--density-dockerd] [--density-podman] [--skip-podman]
#                        [--json FILE] [--keep]
#
#   --runs N           timed starts per engine (default 50, warm-up 5)
#   --containers N     containers in the density test (default 1000)
#   --parallel P       concurrent `docker run -d` clients there (default 4)
#   --density-dockerd  also run the density test against dockerd
#   --density-podman   also run the density test against podman
#   --skip-podman      do not time podman (nor install it)
#   --json FILE        also write every figure as JSON (times in seconds)
#   --keep             keep the work directory
#
# Each engine runs on its own socket and data root in a work directory
# under /var/tmp (a real disk), its exec root under /run (as by default),
# and is stopped at the end; berthd with --bridge none; dockerd
# with --iptables=false --ip6tables=false --bridge=none, so the host's
# network is never touched. busybox:latest comes from scripts/mkbusybox.sh
# (the same tar for all three engines). podman runs with its own --root,
# --runroot and a containers.conf of our own: default ulimits nofile=1024
# and nproc=4096 (the CI host lacks CAP_SYS_RESOURCE, so podman's defaults,
# above the host's hard limits, fail with "error setting rlimit type 6"),
# cgroupfs, and runc (crun refuses the hybrid cgroup layout).
#
# Needs root, make/go (bin/berthd), hyperfine, jq, curl, the docker CLI,
# dockerd (apt-get install docker.io, with a policy-rc.d that exits 101 so no
# service starts) and podman (installed with apt-get if missing). Not part
# of CI: it loads both cores for minutes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "engine-bench: $*" >&2
	exit 2
}
say() { echo "engine-bench: $*" >&2; }

runs=50
containers=1000
parallel=4
density_dockerd=0
density_podman=0
podman=1
json=""
keep=0
while (($#)); do
	case "$1" in
	--runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs needs a number"; runs=$2; shift 2 ;;
	--containers) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--containers needs a number"; containers=$2; shift 2 ;;
	--parallel) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--parallel needs a number"; parallel=$2; shift 2 ;;
	--density-dockerd) density_dockerd=1; shift ;;
	--density-podman) density_podman=1; shift ;;
	--skip-podman) podman=0; shift ;;
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
for tool in go make hyperfine jq curl dockerd "$docker"; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs the tools; dockerd: apt-get install docker.io)"
done
if ((podman)) && ! command -v podman >/dev/null; then
	say "installing podman"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman conmon </dev/null >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman conmon </dev/null >&2; }
fi

say "building"
make -C "$repo" build >&2
[[ -x $repo/bin/berthd ]] || die "no $repo/bin/berthd after make"

work=$(mktemp -d /var/tmp/berth-enginebench.XXXXXX)
# Execution state lives on tmpfs, as every engine's does by default
# (/run/berth, /run/docker, /run/containers): the data roots are on disk.
run=$(mktemp -d /run/berth-enginebench.XXXXXX)
# berthd allows 6 characters (the prefix starts bridge names).
prefix=bb$((RANDOM % 10000))
pids=()
cleanup() {
	set +e
	stop_engines "${pids[@]}"
	kill_leftovers
	release_engine_host "$prefix" "$work/" "$run/"
	local c
	# podman's conmon cgroups, left empty; rmdir only removes empty ones.
	for c in /sys/fs/cgroup/*/libpod_parent; do
		[[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	if ((keep)); then
		say "kept $work and $run"
	else
		rm -rf "$work" "$run"
	fi
}
kill_leftovers() { kill_engine_leftovers "$prefix" "$work/" "$run/"; }
trap cleanup EXIT

# The drop of MemAvailable is read between two settled states: caches
# dropped (sync; drop_caches) before each reading. Without that the
# reading moved with the host's history: each removed container leaves a
# "dying" memory cgroup (some 260 KiB of slab) until the page cache
# charged to it is reclaimed, and on this 24 GiB host nothing reclaims
# it; a thousand of them from an earlier run, freed or not while the
# next density test ran, moved its figure by tens of KiB per container.
# Page cache counts as available either way; what a running container
# pins (its slab, its processes' memory) is not dropped.
#
# Free pages on the per-CPU lists count as available too. MemAvailable
# starts from the buddy allocator's free count, which leaves them out, and
# since Linux 6.6 those lists grow with a burst of frees (up to high_max,
# 98304 pages a CPU on this host) and drain back over tens of seconds. A
# rm -f of a thousand containers left 250 MiB there; during the next
# density run they drained, and MemAvailable alone read 881 KiB per
# container 6 s after the last start and 727 KiB 20 s later, while
# MemAvailable plus the lists read 926 KiB throughout.
mem_available_kib() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 2
	awk -v page_kib=$(($(getconf PAGESIZE) / 1024)) '/^MemAvailable:/ {avail = $2} /^ +count:/ {pcp += $2} END {print avail + pcp * page_kib}' /proc/meminfo /proc/zoneinfo
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }


say "making the busybox image"
"$repo/scripts/mkbusybox.sh" -o "$work/busybox.tar"

# berthd on its own roots.
bsock=$work/berth.sock
mkdir -p "$work/berth/data" "$run/berth"
echo '{}' >"$work/berth/daemon.json"
"$repo/bin/berthd" --config-file "$work/berth/daemon.json" --data-root "$work/berth/data" \
	--exec-root "$run/berth" -H "unix://$bsock" --pidfile "$work/berth/berthd.pid" \
	--resource-prefix "$prefix" --bridge none >"$work/berthd.log" 2>&1 &
berthd_pid=$!
pids+=("$berthd_pid")
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
dockerd_pid=$!
pids+=("$dockerd_pid")
wait_ping "$dsock" "$work/dockerd.log"
"$repo/scripts/mkbusybox.sh" -H "unix://$dsock" --cli "$docker"
docker_version=$("$docker" -H "unix://$dsock" version --format '{{.Server.Version}}')
berth_version=$("$docker" -H "unix://$bsock" version --format '{{.Server.Version}}')

# podman on its own roots and configuration.
pd=()
if ((podman)); then
	mkdir -p "$work/podman/root" "$run/podman" "$work/podman/tmp"
	cat >"$work/podman/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$work/podman/tmp"
EOF
	export CONTAINERS_CONF=$work/podman/containers.conf
	pd=(podman --root "$work/podman/root" --runroot "$run/podman" --storage-driver overlay
		--cgroup-manager cgroupfs)
	"${pd[@]}" import --change 'CMD ["sh"]' "$work/busybox.tar" busybox:latest >/dev/null
	podman_version=$(podman --version | awk '{print $3}')
fi

# check NAME COMMAND...: the engine must really run a container before it
# is timed, so a broken one is reported instead of looking fast.
check() {
	local name=$1 out
	shift
	if ! out=$("$@" 2>&1) || [[ $out != berth-bench-ok ]]; then
		echo "$out" >&2
		die "$name does not run a container; not timed"
	fi
}
check berthd "$docker" -H "unix://$bsock" run --rm --network none busybox echo berth-bench-ok
check dockerd "$docker" -H "unix://$dsock" run --rm --network none busybox echo berth-bench-ok
if ((podman)); then
	check podman "${pd[@]}" run --rm --network none --runtime runc busybox echo berth-bench-ok
fi

# 2. idle memory, before the timed runs: the engines have one image and no
# container.
sleep 2
berthd_rss=$(rss_kib "$berthd_pid")
containerd_pid=$(cat "$run/docker/containerd/containerd.pid" 2>/dev/null || echo 0)
dockerd_rss=$(($(rss_kib "$dockerd_pid") + $(rss_kib "$containerd_pid")))
say "idle RSS: berthd $((berthd_rss / 1024)) MiB, dockerd+containerd $((dockerd_rss / 1024)) MiB"

# 1. start time.
time_run() {
	local name=$1
	shift
	say "timing $name"
	if ! hyperfine -N --runs "$runs" --warmup 5 --style basic --command-name "$name" \
		--export-json "$work/$name.json" "$(printf '%q ' "$@")" >&2; then
		# Say why instead of only that: one more run with its output, and
		# the engine's log is kept.
		"$@" >&2
		keep=1
		die "$name: a timed run failed (the engine's log is in $work)"
	fi
}
time_run docker-cli "$docker" --version
# The floor: an engine that answers the command's requests instantly.
fsock=$work/floor.sock
go build -o "$work/clifloor" "$repo/bench/clifloor"
"$work/clifloor" -socket "$fsock" 2>"$work/clifloor.log" &
pids+=("$!")
wait_ping "$fsock" "$work/clifloor.log"
time_run floor "$docker" -H "unix://$fsock" run --rm --network none busybox true
time_run berthd "$docker" -H "unix://$bsock" run --rm --network none busybox true
time_run dockerd "$docker" -H "unix://$dsock" run --rm --network none busybox true
if ((podman)); then
	time_run podman "${pd[@]}" run --rm --network none --runtime runc busybox true
fi

# 3. density.
# client NAME ARGS...: the engine's CLI: the docker CLI on berthd's or
# dockerd's socket, or podman on its roots.
client() {
	local name=$1
	shift
	case $name in
	berthd) "$docker" -H "unix://$bsock" "$@" ;;
	dockerd) "$docker" -H "unix://$dsock" "$@" ;;
	podman) "${pd[@]}" "$@" ;;
	esac
}
# density NAME PID...: start $containers sleeping containers, measure,
# remove them all; prints one JSON object. PIDs are the engine's daemons.
density() {
	local name=$1
	shift
	local label=berth.bench=$name before after started_ns done_ns running rm_start rm_done per_kib
	sync
	sleep 2
	before=$(mem_available_kib)
	say "density on $name: starting $containers containers ($parallel clients at a time)"
	started_ns=$(date +%s%N)
	export -f client
	PD="${pd[*]}"
	export docker bsock dsock PD
	# xargs runs a shell for the client function; podman's command line
	# goes through the environment as a string (its paths have no spaces).
	# shellcheck disable=SC2016 # expanded by that shell
	seq "$containers" | xargs -P "$parallel" -I{} \
		bash -c 'pd=($PD); client "$0" run -d --network none --label "$1" busybox sleep 3600 >/dev/null' "$name" "$label" ||
		say "some runs failed on $name"
	done_ns=$(date +%s%N)
	running=$(client "$name" ps -q --filter "label=$label" --filter status=running | wc -l)
	sleep 5 # let page cache and slab settle before reading memory
	after=$(mem_available_kib)
	local daemon_rss=0 p
	for p in "$@"; do
		daemon_rss=$((daemon_rss + $(rss_kib "$p")))
	done
	per_kib=$(((before - after) / containers))
	say "$name: $running of $containers running after $(((done_ns - started_ns) / 1000000)) ms; $((per_kib)) KiB each"
	rm_start=$(date +%s%N)
	local rm_errors
	local ids
	ids=$(client "$name" ps -aq --filter "label=$label")
	# shellcheck disable=SC2086 # one argument per id
	rm_errors=$( { [[ -z $ids ]] || client "$name" rm -f $ids; } 2>&1 >/dev/null | grep -c . || true)
	rm_done=$(date +%s%N)
	local left
	left=$(client "$name" ps -aq --filter "label=$label" | wc -l)
	say "$name: rm -f of all in $(((rm_done - rm_start) / 1000000)) ms ($rm_errors errors, $left left)"
	jq -n --arg engine "$name" --argjson n "$containers" --argjson p "$parallel" --argjson running "$running" \
		--argjson start_s "$(((done_ns - started_ns) / 1000000))e-3" \
		--argjson kib_before "$before" --argjson kib_after "$after" --argjson daemon_rss_kib "$daemon_rss" \
		--argjson rm_s "$(((rm_done - rm_start) / 1000000))e-3" --argjson left "$left" --argjson rm_errors "$rm_errors" \
		'{engine: $engine, containers: $n, parallel_clients: $p, running: $running, start_seconds: $start_s,
		  mem_available_drop_kib: ($kib_before - $kib_after),
		  host_kib_per_container: (($kib_before - $kib_after) / $n),
		  daemon_rss_kib_with_containers: $daemon_rss_kib,
		  rm_seconds: $rm_s, rm_seconds_per_500: ($rm_s * 500 / $n), rm_errors: $rm_errors, left_after_rm: $left}'
}
# Nothing else may hold memory while berthd's density is measured.
if ((density_dockerd)); then
	density dockerd "$dockerd_pid" "$containerd_pid" >"$work/density-dockerd.json"
fi
kill -TERM "$dockerd_pid"
wait "$dockerd_pid" 2>/dev/null || true
if ((density_podman && podman)); then
	density podman >"$work/density-podman.json"
fi
density berthd "$berthd_pid" >"$work/density-berthd.json"

median() { jq '.results[0].median' "$work/$1.json"; }
report=$(
	jq -n \
		--arg v_berth "$berth_version" --arg v_docker "$docker_version" --arg v_podman "${podman_version:-}" \
		--argjson runs "$runs" \
		--argjson cli "$(median docker-cli)" --argjson floor "$(median floor)" --argjson berthd "$(median berthd)" --argjson dockerd "$(median dockerd)" \
		--argjson podman "$(if ((podman)); then median podman; else echo null; fi)" \
		--argjson berthd_rss "$berthd_rss" --argjson dockerd_rss "$dockerd_rss" \
		--slurpfile density_berth "$work/density-berthd.json" \
		--slurpfile density_docker <(if ((density_dockerd)); then cat "$work/density-dockerd.json"; fi) \
		--slurpfile density_podman <(if ((density_podman && podman)); then cat "$work/density-podman.json"; fi) \
		'{benchmark: "engine: run --rm true, idle RSS, 1000 containers", runs: $runs,
		  versions: {berthd: $v_berth, dockerd: $v_docker, podman: $v_podman},
		  start_median_seconds: {docker_cli_version: $cli, floor: $floor, berthd: $berthd, dockerd: $dockerd, podman: $podman},
		  ratios: {berthd_over_dockerd: ($berthd / $dockerd),
		           berthd_over_podman: (if $podman then $berthd / $podman else null end),
		           floor_over_dockerd: ($floor / $dockerd),
		           floor_over_podman: (if $podman then $floor / $podman else null end)},
		  idle_rss_mib: {berthd: ($berthd_rss / 1024), dockerd_containerd: ($dockerd_rss / 1024)},
		  density: ($density_berth + $density_docker + $density_podman)}'
)
echo
jq -r '"start, median of \(.runs) (ms): docker CLI alone \(.start_median_seconds.docker_cli_version * 1000 | round), floor (clifloor) \(.start_median_seconds.floor * 1000 * 10 | round / 10), berthd \(.start_median_seconds.berthd * 1000 * 10 | round / 10), dockerd \(.start_median_seconds.dockerd * 1000 * 10 | round / 10), podman \(if .start_median_seconds.podman then (.start_median_seconds.podman * 1000 * 10 | round / 10) else "-" end)",
	"ratios: berthd/dockerd \(.ratios.berthd_over_dockerd * 1000 | round / 1000) (goal <= 0.1), berthd/podman \(if .ratios.berthd_over_podman then (.ratios.berthd_over_podman * 1000 | round / 1000) else "-" end) (goal <= 0.2)",
	"floor ratios (no engine can do better): floor/dockerd \(.ratios.floor_over_dockerd * 1000 | round / 1000), floor/podman \(if .ratios.floor_over_podman then (.ratios.floor_over_podman * 1000 | round / 1000) else "-" end)",
	"idle RSS (MiB): berthd \(.idle_rss_mib.berthd * 10 | round / 10) (goal <= 30), dockerd+containerd \(.idle_rss_mib.dockerd_containerd * 10 | round / 10)",
	(.density[] | "density \(.engine): \(.running)/\(.containers) running, started in \(.start_seconds) s (goal <= 60), \(.host_kib_per_container / 1024 * 100 | round / 100) MiB each (goal <= 1), rm -f \(.rm_seconds_per_500 * 100 | round / 100) s per 500 (goal <= 5) with \(.rm_errors) errors, \(.left_after_rm) left")' <<<"$report"
if [[ -n $json ]]; then
	printf '%s\n' "$report" >"$json"
fi
