#!/usr/bin/env bash
# Runs the OCI runtime validation suite (opencontainers/runtime-tools) against
# a runc-compatible runtime binary.
#
# usage: scripts/oci-validation.sh [--min N] [--only a,b,c] [--timeout SECONDS]
#                                  RUNTIME_BINARY [OUTDIR]
#
#   --min N        exit 1 when fewer than N test files pass
#   --only a,b,c   run only these test files (names as in validation/<name>/)
#   --timeout S    per-test-file timeout in seconds (default 300)
#   OUTDIR         where each test's stdout (<name>.tap) and stderr
#                  (<name>.stderr) go; default: a new directory under /tmp
#
# A test file passes when it exits 0 and prints no line starting "not ok".
# The suite is fetched as a Go module at a pinned version and built once into
# ${XDG_CACHE_HOME:-$HOME/.cache}/berth/runtime-tools-<version>; its code is
# never copied into this repository. Needs root, go, gcc and tar.
#
# Exit status: 0 when done (and --min is met), 1 when --min is not met,
# 2 on a usage or set-up error.
set -euo pipefail

# Bump deliberately: a new suite version changes what "N passed" means.
readonly SUITE_MODULE=github.com/opencontainers/runtime-tools
readonly SUITE_VERSION=v0.9.1-0.20251205004911-5e639034dcdc

die() {
	echo "oci-validation: $*" >&2
	exit 2
}

usage() {
	sed -n '5,13s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

min=""
only=""
timeout_s=300
args=()
while (($#)); do
	case "$1" in
	--min)
		[[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--min needs a number"
		min=$2
		shift 2
		;;
	--only)
		[[ $# -ge 2 && -n $2 ]] || die "--only needs a comma-separated list"
		only=$2
		shift 2
		;;
	--timeout)
		[[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--timeout needs a number of seconds"
		timeout_s=$2
		shift 2
		;;
	-h | --help) usage ;;
	--) shift; args+=("$@"); break ;;
	-*) die "unknown option $1" ;;
	*) args+=("$1"); shift ;;
	esac
done
((${#args[@]} >= 1 && ${#args[@]} <= 2)) || usage

runtime=${args[0]}
# The tests run from the suite's directory, so the runtime path must be absolute.
if [[ $runtime != */* ]]; then
	runtime=$(command -v "$runtime") || die "runtime $runtime not found in PATH"
fi
runtime=$(readlink -f "$runtime") || die "runtime ${args[0]} not found"
[[ -f $runtime && -x $runtime ]] || die "runtime $runtime is not an executable file"

((EUID == 0)) || die "must run as root (the suite creates containers)"
for tool in go tar timeout; do
	command -v "$tool" >/dev/null || die "$tool not found in PATH"
done

outdir=${args[1]:-}
if [[ -z $outdir ]]; then
	outdir=$(mktemp -d /tmp/berth-oci-validation.XXXXXX)
else
	mkdir -p "$outdir"
fi
outdir=$(readlink -f "$outdir")

cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/berth
suite=$cache_root/runtime-tools-$SUITE_VERSION
mkdir -p "$cache_root"

# build_suite fetches the module and builds runtimetest and every test file
# into $suite. It builds in a side directory and renames it into place, so an
# interrupted build never leaves a cache that looks complete.
build_suite() {
	local tmp src partial
	tmp=$(mktemp -d)
	# Run outside any module so that Berth's go.mod and go.sum stay untouched.
	src=$(cd "$tmp" && GOFLAGS=-mod=mod GOWORK=off go mod download -json "$SUITE_MODULE@$SUITE_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rmdir "$tmp"
	[[ -n $src && -d $src ]] || die "go mod download $SUITE_MODULE@$SUITE_VERSION gave no directory"

	partial=$suite.partial
	rm -rf "$partial"
	cp -r "$src" "$partial"
	chmod -R u+w "$partial"
	# vendor/ holds only modules.txt; left in place it would force -mod=vendor.
	rm -rf "$partial/vendor"

	echo "oci-validation: building runtime-tools $SUITE_VERSION in $suite (once)" >&2
	(
		cd "$partial"
		export GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off
		# runtimetest runs inside the container's bare rootfs: it must be static.
		go build -tags "netgo osusergo" -ldflags "-extldflags -static" -o runtimetest ./cmd/runtimetest
		# One go build for all test mains is much faster than one per test.
		go build -o .bin/ ./validation/...
		local d name
		for d in validation/*/; do
			name=$(basename "$d")
			[[ -f $d/$name.go && -x .bin/$name ]] || continue
			mv ".bin/$name" "$d/$name.t"
		done
		rm -rf .bin
	) || die "building the suite failed"
	touch "$partial/.berth-built"
	mv "$partial" "$suite"
}

# Serialise builds between concurrent runs; test runs share the finished
# cache read-only, so only the build needs the lock.
exec 9>"$cache_root/runtime-tools.lock"
flock 9
if [[ ! -f $suite/.berth-built ]]; then
	rm -rf "$suite"
	build_suite
fi
flock -u 9
exec 9>&-

# Every validation/<name>/<name>.go except the util library is a test file.
all_tests=()
for d in "$suite"/validation/*/; do
	name=$(basename "$d")
	[[ -x $d/$name.t ]] && all_tests+=("$name")
done
((${#all_tests[@]} > 0)) || die "no test files in $suite (remove it to rebuild)"

tests=()
if [[ -n $only ]]; then
	IFS=, read -r -a wanted <<<"$only"
	for name in "${wanted[@]}"; do
		[[ -x $suite/validation/$name/$name.t ]] || die "unknown test $name (see $suite/validation)"
		tests+=("$name")
	done
else
	tests=("${all_tests[@]}")
fi

# The suite's cgroup tests put containers in /cgrouptest and, relative to
# the runtime's cgroup, testdir/cgrouptest/container (runtime-tools'
# cgroups package). A runtime removes the container's own cgroup, not the
# parents its path created (runc neither), and on cgroup2 it enables
# controllers along that path. Leave the host as found: remove the suite's
# cgroups that the run created and disable in the cgroup2 root what the run
# enabled there (the kernel refuses while another cgroup still uses it).
suite_cgroups() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d \( -name cgrouptest -o -name testdir \) 2>/dev/null | sort
}
cgroup2_root=""
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	if [[ $(stat -f -c %T "$d" 2>/dev/null) == cgroup2fs ]]; then
		cgroup2_root=$d
		break
	fi
done
cgroups_before=$(suite_cgroups)
controllers_before=""
[[ -z $cgroup2_root ]] || controllers_before=$(cat "$cgroup2_root/cgroup.subtree_control")
restore_cgroups() {
	local dir c now
	# Deepest first: a parent goes only once its children are gone.
	comm -13 <(echo "$cgroups_before") <(suite_cgroups) | awk '{ print gsub("/", "/"), $0 }' |
		sort -rn | cut -d' ' -f2- | while read -r dir; do
		rmdir "$dir" 2>/dev/null || echo "oci-validation: could not remove the suite's cgroup $dir" >&2
	done
	[[ -n $cgroup2_root ]] || return 0
	read -r -a now <"$cgroup2_root/cgroup.subtree_control" || true
	for c in "${now[@]}"; do
		[[ " $controllers_before " == *" $c "* ]] || echo "-$c" >"$cgroup2_root/cgroup.subtree_control" 2>/dev/null || true
	done
}
trap restore_cgroups EXIT

echo "oci-validation: runtime $runtime, ${#tests[@]} test files, logs in $outdir"
passed=0
start=$SECONDS
for name in "${tests[@]}"; do
	tap=$outdir/$name.tap
	errlog=$outdir/$name.stderr
	t0=$SECONDS
	rc=0
	# The tests read rootfs-amd64.tar.gz and runtimetest from the working dir.
	(cd "$suite" && RUNTIME=$runtime timeout --kill-after=10 "$timeout_s" \
		"./validation/$name/$name.t" >"$tap" 2>"$errlog" </dev/null) || rc=$?
	took=$((SECONDS - t0))s
	first_fail=$(grep -m1 '^not ok' "$tap" || true)
	if ((rc == 0)) && [[ -z $first_fail ]]; then
		passed=$((passed + 1))
		note=""
		# A file whose every result is a skip passed without testing anything.
		n_ok=$(grep -c '^ok' "$tap" || true)
		n_skip=$(grep -c '^ok.*# SKIP' "$tap" || true)
		if ((n_ok > 0 && n_ok == n_skip)); then
			note=" (all skipped: $(grep -m1 -o '# SKIP.*' "$tap"))"
		fi
		echo "PASS $name ($took)$note"
		continue
	fi
	# The suite's own messages ("failed to create the container", "exit
	# status 1") hide the cause; the runtime's error is on stderr.
	detail=$(grep -m1 -v -e '^[[:space:]]*$' -e '^failed to \(create\|start\) the container' \
		-e '^exit status' "$errlog" || true)
	if [[ -n $first_fail ]]; then
		reason=$first_fail
		[[ $first_fail =~ -\ exit\ status\ [0-9]+$ && -n $detail ]] && reason+=" | $detail"
	elif ((rc == 124 || rc == 137)); then
		reason="timed out after ${timeout_s}s"
	else
		reason="exit $rc: $(grep -m1 -v '^[[:space:]]*$' "$errlog" || echo 'no output on stderr')"
		[[ $reason =~ failed\ to\ (create|start)\ the\ container$ && -n $detail ]] && reason+=" | $detail"
	fi
	echo "FAIL $name ($took): ${reason:0:400}"
done

echo "passed $passed/${#tests[@]} in $((SECONDS - start))s (logs in $outdir)"
if [[ -n $min ]] && ((passed < min)); then
	echo "oci-validation: $passed passed, fewer than the required --min $min" >&2
	exit 1
fi
