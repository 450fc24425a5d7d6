#!/usr/bin/env bash
# Networking benchmarks (issue 5), Berth against dockerd in one run:
#
#   1. start on the default bridge: `docker run --rm busybox true` through
#      the docker CLI against berthd and against dockerd (Debian docker.io,
#      with its own docker0 bridge and iptables rules), hyperfine medians and
#      the ratio Berth/dockerd (goal <= 0.15); the same with --network none
#      for reference, so the bridge's own cost shows.
#   2. a published port: each engine runs a small HTTP server
#      (bench/netload, static, bind-mounted into busybox) with -p; netload's
#      load generator measures requests per second and latency with kept-
#      alive connections, with a new connection per request, and bulk
#      throughput (MiB/s), over three paths:
#        loopback  the host to 127.0.0.1:PORT (dockerd: docker-proxy;
#                  Berth: DNAT with route_localnet, no proxy)
#        client    a client namespace to the host's veth address:PORT
#                  (both: DNAT through the bridge)
#        direct    the host to the container's own address (no NAT: the
#                  baseline of the path)
#      and the ratios Berth/dockerd.
#
# usage: bench/network.sh [--runs N] [--rounds N] [--duration SECS]
#                         [--clients N] [--bulk-mib N] [--json FILE] [--keep]
#
#   --runs N          timed starts per engine and mode (default 30, warm-up 5)
#   --rounds N        load runs per engine, path and mode, alternating the
#                     engines; the report gives their medians (default 3)
#   --duration SECS   length of each request run (default 5)
#   --clients N       concurrent clients of the request runs (default 8)
#   --bulk-mib N      MiB each of 2 clients downloads in the bulk run
#                     (default 1024)
#   --json FILE       also write every figure as JSON (times in seconds)
#   --keep            keep the work directory
#
# Each engine runs on its own socket, data root and exec root in a work
# directory under /var/tmp, and is stopped at the end. berthd gets the
# resource prefix nbNNNN and --bip 10.199.250.1/24; dockerd gets its default
# bridge docker0 with --bip 10.199.251.1/24, iptables and the userland proxy
# on (its defaults), and the client namespace sits on 10.199.252.0/24: the
# script refuses to run when docker0 exists or one of these subnets is in
# use. dockerd sets the iptables FORWARD policy to DROP and adds its chains:
# the script saves the filter and nat tables before it starts and restores
# them afterwards (and sets FORWARD back to ACCEPT), deletes docker0, the
# client namespace and its veth, and Berth's bridges and nftables tables.
# Both engines leave net.ipv4.ip_forward=1.
#
# Needs root, make/go, hyperfine, jq, curl, iproute2, iptables, nft, the
# docker CLI and dockerd (apt-get install docker.io, with a policy-rc.d that
# exits 101 so no service starts). Not part of CI: it loads both cores for
# minutes and changes the host's firewall while it runs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "network-bench: $*" >&2
	exit 2
}
say() { echo "network-bench: $*" >&2; }

runs=30
duration=5
rounds=3
clients=8
bulk_mib=1024
json=""
keep=0
while (($#)); do
	case "$1" in
	--runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs needs a number"; runs=$2; shift 2 ;;
	--rounds) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a number"; rounds=$2; shift 2 ;;
	--duration) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--duration needs a number of seconds"; duration=$2; shift 2 ;;
	--clients) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--clients needs a number"; clients=$2; shift 2 ;;
	--bulk-mib) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--bulk-mib needs a number"; bulk_mib=$2; shift 2 ;;
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
for tool in go make hyperfine jq curl ip ss nft iptables iptables-save iptables-restore dockerd "$docker"; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs the tools; dockerd: apt-get install docker.io)"
done

berth_bip=10.199.250.1/24
docker_bip=10.199.251.1/24
client_net=10.199.252
! ip link show docker0 >/dev/null 2>&1 || die "docker0 exists: another dockerd runs here; stop it first"
for net in 10.199.250. 10.199.251. "$client_net."; do
	if ip -4 -o addr show | grep -qF " $net" || ip -4 route show | grep -qF "$net"; then
		die "${net}0/24 is in use on this host: the benchmark needs it"
	fi
done

say "building"
make -C "$repo" build >&2
[[ -x $repo/bin/berthd ]] || die "no $repo/bin/berthd after make"
work=$(mktemp -d /var/tmp/berth-netbench.XXXXXX)
mkdir -p "$work/bin"
CGO_ENABLED=0 go -C "$repo" build -o "$work/bin/netload" ./bench/netload

prefix=nb$((RANDOM % 10000))
ns=nbclient$$
veth=nbc$$
pids=()
dockerd_started=0
iptables-save -t filter >"$work/filter.save"
iptables-save -t nat >"$work/nat.save"

cleanup() {
	set +e
	for sock in "$work/berth.sock" "$work/docker.sock"; do
		[[ -S $sock ]] || continue
		"$docker" -H "unix://$sock" ps -aq --filter label=berth.bench=network |
			xargs -r "$docker" -H "unix://$sock" rm -f >/dev/null 2>&1
	done
	stop_engines "${pids[@]}"
	kill_leftovers
	release_engine_host "$prefix" "$work/"
	ip netns del "$ns" 2>/dev/null
	ip link del "$veth" 2>/dev/null
	# Berth's bridges and nftables tables (it leaves them for live restore).
	ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^$prefix(0|-)" | while read -r l; do
		ip link del "$l"
	done
	if ((dockerd_started)); then
		ip link del docker0 2>/dev/null
	fi
	iptables-restore <"$work/filter.save"
	iptables-restore <"$work/nat.save"
	iptables -P FORWARD ACCEPT
	if ((keep)); then
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
# kill_leftovers also ends the docker-proxy processes dockerd started.
kill_leftovers() {
	local pid
	for pid in "${proxies[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	kill_engine_leftovers "$prefix" "$work/"
}
proxies=()
trap cleanup EXIT


say "making the busybox image"
"$repo/scripts/mkbusybox.sh" -o "$work/busybox.tar"

bsock=$work/berth.sock
mkdir -p "$work/berth/data" "$work/berth/exec"
echo '{}' >"$work/berth/daemon.json"
"$repo/bin/berthd" --config-file "$work/berth/daemon.json" --data-root "$work/berth/data" \
	--exec-root "$work/berth/exec" -H "unix://$bsock" --pidfile "$work/berth/berthd.pid" \
	--resource-prefix "$prefix" --bip "$berth_bip" >"$work/berthd.log" 2>&1 &
pids+=("$!")
wait_ping "$bsock" "$work/berthd.log"
"$repo/scripts/mkbusybox.sh" -H "unix://$bsock" --cli "$docker"

dsock=$work/docker.sock
mkdir -p "$work/docker/data" "$work/docker/exec"
echo '{}' >"$work/docker/daemon.json"
dockerd_started=1
dockerd --config-file "$work/docker/daemon.json" --data-root "$work/docker/data" \
	--exec-root "$work/docker/exec" -H "unix://$dsock" --pidfile "$work/docker/dockerd.pid" \
	--bip "$docker_bip" --cgroup-parent "/$prefix-docker" --storage-driver overlay2 \
	>"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
pids+=("$dockerd_pid")
wait_ping "$dsock" "$work/dockerd.log"
"$repo/scripts/mkbusybox.sh" -H "unix://$dsock" --cli "$docker"
docker_version=$("$docker" -H "unix://$dsock" version --format '{{.Server.Version}}')
berth_version=$("$docker" -H "unix://$bsock" version --format '{{.Server.Version}}')

# check NAME COMMAND...: the engine must really run a container on its
# bridge before it is timed.
check() {
	local name=$1 out
	shift
	if ! out=$("$@" 2>&1) || [[ $out != *berth-bench-ok* ]]; then
		echo "$out" >&2
		die "$name does not run a container on its default bridge; not timed"
	fi
}
for engine in berthd dockerd; do
	sock=$bsock
	[[ $engine == dockerd ]] && sock=$dsock
	check "$engine" "$docker" -H "unix://$sock" run --rm busybox sh -c 'ip -4 -o addr show eth0 >/dev/null && echo berth-bench-ok'
done

# 1. start time.
time_run() {
	local name=$1
	shift
	say "timing $name"
	hyperfine -N --runs "$runs" --warmup 5 --style basic --command-name "$name" \
		--export-json "$work/$name.json" "$(printf '%q ' "$@")" >&2
}
time_run berthd-bridge "$docker" -H "unix://$bsock" run --rm busybox true
time_run dockerd-bridge "$docker" -H "unix://$dsock" run --rm busybox true
time_run berthd-none "$docker" -H "unix://$bsock" run --rm --network none busybox true
time_run dockerd-none "$docker" -H "unix://$dsock" run --rm --network none busybox true

# 2. a published port.
free_port() {
	local p
	for p in $(seq "$1" $(($1 + 500))); do
		[[ -z $(ss -Htanl "sport = :$p") ]] && { echo "$p"; return; }
	done
	die "no free port from $1"
}
bport=$(free_port 20080)
dport=$(free_port $((bport + 1)))
declare -A port=([berthd]=$bport [dockerd]=$dport) sock=([berthd]=$bsock [dockerd]=$dsock) cip=()
for engine in berthd dockerd; do
	"$docker" -H "unix://${sock[$engine]}" run -d --name "netload-$engine" --label berth.bench=network \
		-p "${port[$engine]}:8080" -v "$work/bin:/opt/netload:ro" busybox /opt/netload/netload serve >/dev/null
	cip[$engine]=$("$docker" -H "unix://${sock[$engine]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "netload-$engine")
done
mapfile -t proxies < <(pgrep -P "$dockerd_pid" -x docker-proxy || true)

# The client namespace: a veth pair on $client_net.0/24, the host at .1.
ip netns add "$ns"
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip addr add "$client_net.1/24" dev "$veth"
ip link set "$veth" up
ip -n "$ns" addr add "$client_net.2/24" dev eth0
ip -n "$ns" link set lo up
ip -n "$ns" link set eth0 up
ip -n "$ns" route add default via "$client_net.1"

# url ENGINE PATH: where the load goes.
url() {
	case $2 in
	loopback) echo "http://127.0.0.1:${port[$1]}" ;;
	client) echo "http://$client_net.1:${port[$1]}" ;;
	direct) echo "http://${cip[$1]}:8080" ;;
	esac
}
# load ENGINE PATH ARGS...: run netload for the path; prints its JSON.
load() {
	local engine=$1 path=$2
	shift 2
	local cmd=("$work/bin/netload" run -url "$(url "$engine" "$path")" "$@")
	[[ $path == client ]] && cmd=(ip netns exec "$ns" "${cmd[@]}")
	"${cmd[@]}" | jq -c --arg engine "$engine" --arg path "$path" '. + {engine: $engine, path: $path}'
}
for engine in berthd dockerd; do
	for path in loopback client direct; do
		for _ in $(seq 50); do
			if load "$engine" "$path" -mode close -c 1 -d 1s >/dev/null 2>&1; then
				continue 2
			fi
			sleep 0.2
		done
		die "$engine's server does not answer on $(url "$engine" "$path")"
	done
done
: >"$work/load.jsonl"
for round in $(seq "$rounds"); do
	for path in loopback client direct; do
		for mode in keepalive close; do
			for engine in berthd dockerd; do
				say "load, round $round: $engine $path $mode (${duration}s, $clients clients)"
				load "$engine" "$path" -mode "$mode" -c "$clients" -d "${duration}s" >>"$work/load.jsonl"
			done
		done
		for engine in berthd dockerd; do
			say "load, round $round: $engine $path bulk (2 x $bulk_mib MiB)"
			load "$engine" "$path" -mode bulk -c 2 -mib "$bulk_mib" >>"$work/load.jsonl"
		done
	done
done

median() { jq '.results[0].median' "$work/$1.json"; }
report=$(
	jq -n \
		--arg v_berth "$berth_version" --arg v_docker "$docker_version" \
		--argjson runs "$runs" --argjson rounds "$rounds" --argjson duration "$duration" --argjson clients "$clients" --argjson bulk_mib "$bulk_mib" \
		--argjson bb "$(median berthd-bridge)" --argjson db "$(median dockerd-bridge)" \
		--argjson bn "$(median berthd-none)" --argjson dn "$(median dockerd-none)" \
		--slurpfile load "$work/load.jsonl" \
		'def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		 def summary: group_by([.path, .mode, .engine])[] | {engine: .[0].engine, path: .[0].path, mode: .[0].mode, rounds: length,
		   requests_per_second: ([.[].requests_per_second // empty] | med), p50_ms: ([.[].p50_ms // empty] | med),
		   p99_ms: ([.[].p99_ms // empty] | med), mib_per_second: ([.[].mib_per_second // empty] | med),
		   errors: ([.[].errors] | add)};
		 ([$load | summary]) as $medians |
		 def pick($e; $p; $m): [$medians[] | select(.engine == $e and .path == $p and .mode == $m)][0];
		 {benchmark: "network: run --rm true on the default bridge, HTTP through a published port",
		  versions: {berthd: $v_berth, dockerd: $v_docker},
		  runs: $runs, load_rounds: $rounds, load_seconds: $duration, load_clients: $clients, bulk_mib_per_client: $bulk_mib,
		  start_median_seconds: {berthd_bridge: $bb, dockerd_bridge: $db, berthd_none: $bn, dockerd_none: $dn},
		  bridge_cost_seconds: {berthd: ($bb - $bn), dockerd: ($db - $dn)},
		  start_ratio_bridge: ($bb / $db),
		  load_medians: $medians,
		  load: $load,
		  ratios: [("loopback", "client", "direct") as $p | {path: $p,
		    keepalive_rps: (pick("berthd"; $p; "keepalive").requests_per_second / pick("dockerd"; $p; "keepalive").requests_per_second),
		    keepalive_p50: (pick("berthd"; $p; "keepalive").p50_ms / pick("dockerd"; $p; "keepalive").p50_ms),
		    keepalive_p99: (pick("berthd"; $p; "keepalive").p99_ms / pick("dockerd"; $p; "keepalive").p99_ms),
		    close_rps: (pick("berthd"; $p; "close").requests_per_second / pick("dockerd"; $p; "close").requests_per_second),
		    close_p50: (pick("berthd"; $p; "close").p50_ms / pick("dockerd"; $p; "close").p50_ms),
		    bulk_mib_s: (pick("berthd"; $p; "bulk").mib_per_second / pick("dockerd"; $p; "bulk").mib_per_second)}]}'
)
echo
jq -r 'def ms: . * 1000 * 10 | round / 10;
	"start, median of \(.runs) (ms): bridge: berthd \(.start_median_seconds.berthd_bridge | ms), dockerd \(.start_median_seconds.dockerd_bridge | ms); none: berthd \(.start_median_seconds.berthd_none | ms), dockerd \(.start_median_seconds.dockerd_none | ms)",
	"bridge cost (bridge - none, ms): berthd \(.bridge_cost_seconds.berthd | ms), dockerd \(.bridge_cost_seconds.dockerd | ms)",
	"ratio berthd/dockerd on the bridge: \(.start_ratio_bridge * 1000 | round / 1000) (goal <= 0.15)", "",
	"published port, medians of \(.load_rounds) rounds:"' <<<"$report"
{
	echo "engine path mode req/s p50_ms p99_ms MiB/s errors"
	jq -r '.load_medians[] | [.engine, .path, .mode, (.requests_per_second // "-" | if type == "number" then round else . end),
		(.p50_ms // "-" | if type == "number" then . * 1000 | round / 1000 else . end),
		(.p99_ms // "-" | if type == "number" then . * 1000 | round / 1000 else . end), (.mib_per_second // "-" | if type == "number" then round else . end), .errors] | map(tostring) | join(" ")' <<<"$report"
} | column -t
echo
jq -r 'def r: . * 1000 | round / 1000;
	"ratios berthd/dockerd (req/s and MiB/s: above 1 is better; latency: below 1 is better):",
	(.ratios[] | "  \(.path): keep-alive req/s \(.keepalive_rps | r), p50 \(.keepalive_p50 | r), p99 \(.keepalive_p99 | r); new connection req/s \(.close_rps | r), p50 \(.close_p50 | r); bulk MiB/s \(.bulk_mib_s | r)")' <<<"$report"
if [[ -n $json ]]; then
	printf '%s\n' "$report" >"$json"
fi
