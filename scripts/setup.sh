#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine, as root and without a terminal, to build
# and test Berth: the Debian packages the tests and benchmarks use, staticcheck,
# then `make`. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

((EUID == 0)) || { echo "setup: run as root (it installs Debian packages)" >&2; exit 1; }
command -v go >/dev/null || { echo "setup: Go 1.26 is required in /usr/local/go" >&2; exit 1; }

# build-essential: cgo for berth-runtime and the static runtimetest binary.
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
packages=(
	build-essential make git ca-certificates
	busybox-static runc crun
	iproute2 procps util-linux
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

make install
echo "setup: done (binaries in ./bin, installed in /usr/local/bin)"
