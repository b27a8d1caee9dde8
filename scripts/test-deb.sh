#!/usr/bin/env bash
# What `make test-dist` runs for the .deb: its file list and control data (dpkg-deb), lintian
# with no errors, then a real `dpkg -i`, `dpkg -r` and `dpkg --purge` as root, inside a private
# mount namespace whose /usr, /etc and /var are overlays on a scratch directory: the host's
# own files, package database and /var/lib/portpool are never touched.
#
# Usage: test-deb.sh DEB
set -euo pipefail

DEB=$(realpath "$1")
step() { printf '\n== test-deb: %s\n' "$*"; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
has() { grep "$@" > /dev/null; }

step "contents and control data"
contents=$(dpkg-deb -c "$DEB")
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for path in ./usr/bin/portpool ./usr/include/portpool.h \
    "./usr/lib/$multiarch/libportpool.a" "./usr/lib/$multiarch/libportpool.so.0 -> " \
    "./usr/lib/$multiarch/libportpool.so -> " "./usr/lib/$multiarch/pkgconfig/portpool.pc" \
    ./usr/share/man/man1/portpool.1.gz ./usr/share/bash-completion/completions/portpool \
    ./usr/share/zsh/site-functions/_portpool ./usr/share/fish/vendor_completions.d/portpool.fish \
    ./usr/share/doc/portpool/copyright ./usr/share/doc/portpool/changelog.gz \
    ./usr/share/doc/portpool/README.md.gz ./usr/lib/systemd/system/portpool-portserver.service \
    ./usr/lib/systemd/system/portpool-reserve.path ./usr/lib/systemd/system/portpool-reserve.service; do
    printf '%s\n' "$contents" | has -F -- "$path" || fail "the package lacks $path"
done
info=$(dpkg-deb -I "$DEB")
for field in "Package: portpool" "Depends: " "Recommends: bash-completion" "Maintainer: " " postinst" " postrm" " triggers"; do
    printf '%s\n' "$info" | has -F -- "$field" || fail "control data lacks '$field'"
done
dpkg-deb -I "$DEB" | sed -n '/^ Package:/,$p'

step "lintian: no errors"
if ! command -v lintian > /dev/null; then
    # make test-dist said so when it started: lintian comes from apt, as root, only if missing.
    apt-get update -qq > /dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lintian > /dev/null
fi
report=$(lintian --tag-display-limit 0 "$DEB" || true)
printf '%s\n' "$report"
if printf '%s\n' "$report" | has '^E: '; then
    fail "lintian reports errors"
fi

step "dpkg -i, -r and --purge in private mount and network namespaces over overlays"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A private network namespace too: the postinst runs `portpool reserve`, which writes the
# namespace's net.ipv4.ip_local_reserved_ports, never the host's.
unshare --mount --net --propagation private bash -euo pipefail -c '
scratch=$1 deb=$2
ip link set lo up
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
for d in usr etc var; do
    mkdir -p "$scratch/$d/up" "$scratch/$d/work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d/up,workdir=$scratch/$d/work" "/$d"
done
rm -rf /var/lib/portpool
getent group portpool > /dev/null && groupdel portpool
dpkg -i "$deb" > /dev/null
getent group portpool > /dev/null || fail "postinst made no group portpool"
[ "$(stat -c "%U:%G %a" /var/lib/portpool)" = "root:portpool 3775" ] || fail "/var/lib/portpool is $(stat -c "%U:%G %a" /var/lib/portpool)"
[ "$(stat -c "%U:%G %a" /var/lib/portpool/registry.json)" = "root:portpool 664" ] || fail "registry mode"
portpool path | grep -q "^rule: the host registry" || fail "portpool path: $(portpool path)"
useradd -M -G portpool deb-member
port=$(setpriv --reuid=deb-member --regid=deb-member --init-groups portpool allocate from-a-member)
[ "$(portpool get from-a-member)" = "$port" ] || fail "root does not see the member lease"
# The postinst on its own, run again: it changes nothing.
sh /var/lib/dpkg/info/portpool.postinst configure > /dev/null
[ "$(portpool get from-a-member)" = "$port" ] || fail "a second postinst lost the lease"
# ... but syncs the reserved ports of the kernel, which now hold the port of the member.
grep -qw "$port" /proc/sys/net/ipv4/ip_local_reserved_ports || fail "the postinst did not reserve $port"
portpool reserve --check > /dev/null || fail "reserve --check reports drift after the postinst"
[ -L /etc/systemd/system/paths.target.wants/portpool-reserve.path ] || fail "the postinst did not enable portpool-reserve.path"
# The library links from its standard place, and the program runs without LD_LIBRARY_PATH.
printf "#include <portpool.h>\nint main(void) { return portpool_abi_version() == PORTPOOL_ABI_VERSION ? 0 : 1; }\n" > "$scratch/abi.c"
cc "$scratch/abi.c" $(pkg-config --cflags --libs portpool) -o "$scratch/abi"
"$scratch/abi" || fail "a program linked against the installed libportpool"
dpkg -r portpool > /dev/null
[ -f /var/lib/portpool/registry.json ] || fail "dpkg -r removed the registry"
[ ! -e /usr/bin/portpool ] || fail "dpkg -r left /usr/bin/portpool"
dpkg -i "$deb" > /dev/null
[ "$(portpool get from-a-member)" = "$port" ] || fail "a reinstall lost the leases"
dpkg --purge portpool > /dev/null
[ ! -e /var/lib/portpool ] || fail "dpkg --purge left /var/lib/portpool"
echo "installed, used by a member, removed, reinstalled and purged"
' bash "$scratch" "$DEB"
echo "test-deb: ok"
