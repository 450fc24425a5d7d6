#!/usr/bin/env bash
# Makes a busybox image from Debian's busybox-static, without a registry:
# a root filesystem (busybox with a symlink per applet in /bin, /etc/passwd
# with root and nobody, /etc/group, /tmp 1777), packed into a tar and
# imported through the Engine API with `docker import`, so it works with
# any engine the client reaches: berthd, dockerd.
#
# usage: scripts/mkbusybox.sh [-H HOST] [--cli CLIENT] [--tag NAME] [-o FILE]
#
#   -H HOST       engine address (default: $BERTH_HOST, else $DOCKER_HOST,
#                 else unix:///run/berth/berth.sock)
#   --cli CLIENT  client binary that imports (default: docker if on $PATH,
#                 else berth); both take the same flags
#   --tag NAME    image name (default busybox:latest)
#   -o FILE       only write the root filesystem tar to FILE ("-" for
#                 stdout); no engine needed
#
# The tar is the same for the same busybox binary (sorted names, owner
# root, fixed times), so its layer digest is too. Needs root (chroot runs
# busybox --install inside the new tree).
set -euo pipefail

die() {
	echo "mkbusybox: $*" >&2
	exit 2
}

host=${BERTH_HOST:-${DOCKER_HOST:-unix:///run/berth/berth.sock}}
cli=""
tag=busybox:latest
output=""
while (($#)); do
	case "$1" in
	-H | --host) [[ $# -ge 2 ]] || die "$1 needs an address"; host=$2; shift 2 ;;
	--cli) [[ $# -ge 2 ]] || die "--cli needs a binary"; cli=$2; shift 2 ;;
	--tag) [[ $# -ge 2 ]] || die "--tag needs a name"; tag=$2; shift 2 ;;
	-o) [[ $# -ge 2 ]] || die "-o needs a file"; output=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
done

((EUID == 0)) || die "run as root (the tree's files must belong to root)"
busybox=/bin/busybox
[[ -x $busybox ]] || die "no $busybox: apt-get install busybox-static"
# A dynamically linked busybox would not run in a tree without libraries.
if file_out=$(LC_ALL=C readelf -l "$busybox" 2>/dev/null) && grep -q 'INTERP' <<<"$file_out"; then
	die "$busybox is dynamically linked: apt-get install busybox-static"
fi
if [[ -z $output ]]; then
	if [[ -z $cli ]]; then
		cli=$(command -v docker || command -v berth || true)
		[[ -n $cli ]] || die "neither docker nor berth on PATH (give --cli)"
	fi
	command -v "$cli" >/dev/null || die "no client $cli"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mkbusybox.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

mkdir -m 0755 "$root"
mkdir -m 0755 "$root"/{bin,dev,etc,home,usr,usr/bin,var}
mkdir -m 0555 "$root"/{proc,sys}
mkdir -m 0700 "$root/root"
mkdir -m 1777 "$root/tmp" "$root/var/tmp"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
# Run inside the tree, busybox links every applet to /bin/busybox as the
# container will see it (outside, it would link to the host path).
chroot "$root" /bin/busybox --install -s /bin
[[ -L $root/bin/sh ]] || ln -s busybox "$root/bin/sh"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"

tarball=$work/rootfs.tar
tar --create --file "$tarball" --directory "$root" --sort=name \
	--owner=0 --group=0 --numeric-owner --mtime=@0 --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime .

if [[ -n $output ]]; then
	if [[ $output == - ]]; then
		cat "$tarball"
	else
		cp "$tarball" "$output"
	fi
	exit 0
fi

"$cli" -H "$host" import --change 'CMD ["sh"]' --message "busybox-static $("$busybox" 2>&1 | head -1 | awk '{print $2}')" \
	"$tarball" "$tag" >/dev/null
"$cli" -H "$host" image inspect --format '{{.Id}}' "$tag" >/dev/null
echo "mkbusybox: $tag imported into $host" >&2
