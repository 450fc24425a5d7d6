#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine, as root and without a terminal, to build,
# test and use Berth: the Debian packages the tests and benchmarks use,
# staticcheck, Debian's docker CLI 20.10 for the compatibility tests, then
# `make install` (every binary into /usr/local/bin), the `berth` group, berthd
# running (a systemd service where systemd is pid 1, else a background process
# with a pid file), and a local busybox:latest image made from busybox-static.
# Afterwards `berth run --rm -it busybox sh` works, and so does
# `docker -H unix:///run/berth/berth.sock run ...`.
#
# Safe to run again: it installs only what is missing, and restarts a running
# berthd so that it runs the binary just built (containers keep running: live
# restore).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

((EUID == 0)) || { echo "setup: run as root (it installs Debian packages)" >&2; exit 1; }
command -v go >/dev/null || { echo "setup: Go 1.26 is required in /usr/local/go" >&2; exit 1; }

# build-essential: cgo for the static runtimetest binary.
# musl-tools: musl-gcc, which berth-runtime links with statically (Makefile).
# busybox-static: the test rootfs. runc, crun: the reference runtimes.
# iproute2, procps: network and process inspection in tests.
# jq, hyperfine: benchmarks. shellcheck: lint. git: source checks.
# qemu-system-x86, cpio: the cgroup v2 tests in a VM (scripts/vmtest.sh).
# docker-registry: the reference registry (distribution 2.8) that
#   testenv.StartRegistry runs for pull/push tests, with htpasswd or token auth.
# skopeo: copies images between docker-archive, OCI layout and registries, to
#   check Berth's archives and pushes against an independent implementation.
# umoci: unpacks OCI layouts, the reference tree for Berth's own unpacking.
# zstd: inspects zstd-compressed layers by hand.
# apache2-utils: htpasswd, to make the registry's password files by hand.
# curl: asks berthd's socket for /_ping once it is started.
# nftables, iptables: the networking tests read and write rules with nft
#   and iptables (Berth itself speaks netlink).
packages=(
	build-essential musl-tools make git ca-certificates curl
	busybox-static runc crun
	iproute2 procps util-linux nftables iptables
	jq hyperfine shellcheck
	qemu-system-x86 cpio
	docker-registry skopeo umoci zstd apache2-utils
)
missing=()
for p in "${packages[@]}"; do
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi
# The tests start their own registries; the package's service would only hold
# port 5000 on machines that boot with systemd.
if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet docker-registry 2>/dev/null; then
	systemctl disable --now docker-registry
fi

if [[ $(staticcheck -version 2>/dev/null) != *"(${STATICCHECK_VERSION#v})"* ]]; then
	echo "setup: installing staticcheck $STATICCHECK_VERSION"
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

# Debian's docker.io: dockerd for the parity tests (internal/testenv/daemontest
# starts one on its own socket and roots, without iptables rules or a bridge,
# and stops it) and its CLI 20.10 (API 1.41, /usr/bin/docker), which
# integration/cli runs a subset of its tables with. /usr/local/bin/docker, the
# CLI 28, stays first in PATH. A policy-rc.d that refuses keeps the package
# from starting a system dockerd, which would set the iptables FORWARD
# policy to DROP.
if ! command -v dockerd >/dev/null || ! /usr/bin/docker --version 2>/dev/null | grep -q '^Docker version 20\.10\.'; then
	echo "setup: installing docker.io (dockerd is not started)"
	policy=/usr/sbin/policy-rc.d
	saved=""
	if [[ -e $policy ]]; then
		saved=$(mktemp)
		cp -p "$policy" "$saved"
	fi
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io </dev/null
	if [[ -n $saved ]]; then mv "$saved" "$policy"; else rm -f "$policy"; fi
	if [[ -d /run/systemd/system ]]; then
		systemctl disable --now docker.service docker.socket containerd.service >/dev/null 2>&1 || true
	fi
fi

make install
echo "setup: binaries built in ./bin and installed in /usr/local/bin"

# The daemon: its socket is group berth (mode 0660), so members of the group
# use it without root.
getent group berth >/dev/null || groupadd --system berth

socket=/run/berth/berth.sock
pidfile=/run/berth/berthd.pid
logfile=/var/log/berthd.log
unit=contrib/systemd/berthd.service

# alive PID: a running process, not a zombie (some init processes never reap).
alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $state != Z* ]]
}

if [[ $(cat /proc/1/comm 2>/dev/null) == systemd && -d /run/systemd/system ]]; then
	[[ -f $unit ]] || { echo "setup: no $unit in the repository" >&2; exit 1; }
	install -m 0644 "$unit" /etc/systemd/system/berthd.service
	systemctl daemon-reload
	systemctl enable --quiet berthd.service
	# restart, not start: a berthd already running must pick up the new
	# binary.
	systemctl restart berthd.service
	echo "setup: berthd (re)started by systemd (journalctl -u berthd for its log)"
else
	mkdir -p /run/berth
	if [[ -s $pidfile ]]; then
		old=$(<"$pidfile")
		if [[ $old =~ ^[0-9]+$ ]] && alive "$old" && [[ $(ps -o comm= -p "$old") == berthd ]]; then
			echo "setup: stopping the running berthd (pid $old) to start the new binary"
			kill -TERM "$old"
			for _ in $(seq 300); do
				alive "$old" || break
				sleep 0.1
			done
			if alive "$old"; then
				echo "setup: berthd $old ignored SIGTERM for 30s; killing it" >&2
				kill -KILL "$old"
			fi
		fi
	fi
	old=${old:-}
	# setsid: its own session, so it outlives this script and its terminal.
	setsid /usr/local/bin/berthd --pidfile "$pidfile" </dev/null >>"$logfile" 2>&1 &
	background=1
	echo "setup: berthd started in the background (log $logfile, pid file $pidfile)"
fi

# Ready once it answers the API on its socket.
ready=0
for _ in $(seq 600); do
	if [[ $(curl -fsS --max-time 2 --unix-socket "$socket" http://berth/_ping 2>/dev/null) == OK ]]; then
		ready=1
		break
	fi
	sleep 0.1
done
if ((!ready)); then
	echo "setup: berthd does not answer on $socket after 60s" >&2
	if [[ -f $logfile ]]; then tail -n 30 "$logfile" >&2; fi
	exit 1
fi
# The answer must come from the berthd just started, not from another one
# still holding the socket (the new one then exits: one daemon per data
# root). It writes its pid file before it serves.
if ((${background:-0})); then
	new=$(cat "$pidfile" 2>/dev/null || true)
	if ! [[ $new =~ ^[0-9]+$ ]] || [[ $new == "$old" ]] || ! alive "$new"; then
		echo "setup: the new berthd is not running; another daemon answers on $socket" >&2
		tail -n 30 "$logfile" >&2
		exit 1
	fi
fi
echo "setup: berthd answers on unix://$socket"

# busybox:latest, made locally: no registry is needed.
client=$(command -v docker || echo /usr/local/bin/berth)
if "$client" -H "unix://$socket" image inspect busybox:latest >/dev/null 2>&1; then
	echo "setup: busybox:latest is already there"
else
	scripts/mkbusybox.sh -H "unix://$socket" --cli "$client"
fi
echo "setup: done: try berth run --rm -it busybox sh"
