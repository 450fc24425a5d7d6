#!/usr/bin/env bash
# Image benchmarks: load, pull and save of bench/mkimage's ~200 MB
# three-layer image, Berth (bench/imagebench) against dockerd (Debian's
# docker.io) in the same run on the same disk.
#
# usage: bench/images.sh [--runs N] [--json FILE] [--keep]
#
#   --runs N     timed runs per operation and engine (default 5)
#   --json FILE  also write the results as JSON (times in seconds)
#   --keep       keep the work directory (for a look afterwards)
#
# dockerd is started here only, on its own socket, data root and exec root,
# without iptables rules or a bridge, and stopped at the end: it never
# touches the host's network. Every timed run starts from an empty store
# (load, pull) or from a store holding just the image (save); the archive
# is in the page cache for both engines, and `sync` runs before each timed
# command so one run's writeback does not land on the next.
#
# Needs root, go, hyperfine, jq, dockerd (apt-get install docker.io, with a
# policy-rc.d that exits 101 so no service starts), docker-registry and
# skopeo. Not part of CI.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "images-bench: $*" >&2
	exit 2
}

runs=5
json=""
keep=0
while (($#)); do
	case "$1" in
	--runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs needs a number"; runs=$2; shift 2 ;;
	--json) [[ $# -ge 2 ]] || die "--json needs a file"; json=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) die "unknown argument $1" ;;
	esac
done

((EUID == 0)) || die "must run as root"
for tool in go hyperfine jq dockerd docker docker-registry skopeo; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# On the same disk as a real data root would be, not on tmpfs.
work=$(mktemp -d /var/tmp/berth-imgbench.XXXXXX)
dockerd_pid=""
registry_pid=""
cleanup() {
	set +e
	[[ -n $dockerd_pid ]] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
	[[ -n $registry_pid ]] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
	# Anything dockerd or a killed imagebench left mounted under work.
	grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m"
	done
	if ((keep)); then
		echo "images-bench: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

echo "images-bench: building the image and the tools" >&2
(cd "$repo" && go run ./bench/mkimage -o "$work/image.tar" >&2)
(cd "$repo" && go build -o "$work/imagebench" ./bench/imagebench)
ref=bench/image:latest

# A local registry holding the image, with gzip-compressed layers as docker
# push writes them.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$work/registry"
cat >"$work/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
	sleep 0.1
done
remote=127.0.0.1:$port/bench/image:latest
skopeo copy --quiet --insecure-policy --dest-tls-verify=false \
	"docker-archive:$work/image.tar" "docker://$remote" >&2

# dockerd on its own socket and roots; no iptables, no bridge.
sock=unix://$work/docker.sock
dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" --pidfile "$work/dockerd.pid" \
	-H "$sock" --iptables=false --ip6tables=false --bridge=none --storage-driver=overlay2 \
	--containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-plugins \
	>"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 150); do
	docker -H "$sock" version >/dev/null 2>&1 && break
	sleep 0.2
done
docker -H "$sock" version >/dev/null 2>&1 || die "dockerd did not start: $(tail -5 "$work/dockerd.log")"
docker_version=$(docker -H "$sock" version --format '{{.Server.Version}}')

dk=$(printf '%q ' docker -H "$sock")
ib=$(printf '%q' "$work/imagebench")
berth_root=$work/berth
empty_docker="$dk rmi -f $ref $remote >/dev/null 2>&1; $dk image prune -af >/dev/null 2>&1; sync"
empty_berth="rm -rf $berth_root; sync"

# bench NAME PREPARE COMMAND
bench() {
	echo "images-bench: timing $1" >&2
	hyperfine --runs "$runs" --warmup 1 --style basic --prepare "$2" \
		--command-name "$1" --export-json "$work/$1.json" "$3" >&2
}

# Load into an empty store (both unpack the layers, as docker load does).
bench docker-load "$empty_docker" "$dk load -q -i $work/image.tar"
bench berth-load "$empty_berth" "$ib load -root $berth_root -i $work/image.tar"
# Pull from the local registry into an empty store.
bench docker-pull "$empty_docker" "$dk pull -q $remote"
bench berth-pull "$empty_berth" "$ib pull -root $berth_root $remote"
# Save the image (loaded once) to a file.
eval "$empty_docker"
eval "$dk load -q -i $work/image.tar" >/dev/null
eval "$empty_berth"
eval "$ib load -root $berth_root -i $work/image.tar" >/dev/null
bench docker-save "rm -f $work/out-docker.tar; sync" "$dk save -o $work/out-docker.tar $ref"
bench berth-save "rm -f $work/out-berth.tar; sync" "$ib save -root $berth_root -o $work/out-berth.tar $ref"

report=$(
	for op in load pull save; do
		for engine in docker berth; do
			jq -c --arg op "$op" --arg engine "$engine" \
				'.results[0] | {op: $op, engine: $engine, mean, median, stddev, min, max}' "$work/$engine-$op.json"
		done
	done | jq -s --arg dv "$docker_version" --arg size "$(stat -c %s "$work/image.tar")" '
		{benchmark: "load, pull and save of a three-layer image", archive_bytes: ($size | tonumber),
		 dockerd: $dv, results: .,
		 ratios: (group_by(.op) | map({(.[0].op): ((map(select(.engine == "berth"))[0].mean) / (map(select(.engine == "docker"))[0].mean))}) | add)}'
)
echo
printf '%-6s %-7s %9s %9s %9s %9s %9s\n' op engine mean median stddev min max
jq -r '.results[] | [.op, .engine, (.mean, .median, .stddev, .min, .max | . * 1000 | round / 1000)] | @tsv' <<<"$report" |
	while IFS=$'\t' read -r op engine mean median stddev min max; do
		printf '%-6s %-7s %8.3fs %8.3fs %8.3fs %8.3fs %8.3fs\n' "$op" "$engine" "$mean" "$median" "$stddev" "$min" "$max"
	done
jq -r '.ratios | to_entries[] | "berth/docker \(.key) (mean): \(.value * 100 | round / 100)"' <<<"$report"
echo "(dockerd $docker_version; a ratio below 1 means Berth is faster; the goal is 0.5 or less for load and pull)"
if [[ -n $json ]]; then
	printf '%s\n' "$report" >"$json"
fi
