#!/usr/bin/env bash
# What `make deb` runs: stages `make install PREFIX=/usr` (Debian's multiarch library
# directory, no rpath) and turns it into portpool_VERSION_ARCH.deb with dpkg-deb: the package
# holds exactly what `make install` installs (the portserver's systemd unit, disabled, among
# it), plus Debian's docs with README.md, and the maintainer scripts beside this file.
#
# Usage: build.sh REPO OUT_DIR VERSION   (with $CARGO_TARGET_DIR set by the Makefile, and
#        RELEASE_DIR=<the glibc 2.17 build> BUILD_RELEASE= from `make deb` and `make dist`:
#        `make install` then installs that build instead of building one for this machine)
#
# The Maintainer field names who built the package: $DEBFULLNAME and $DEBEMAIL, as Debian's
# own tools read them, else the repository's git user.name and user.email.
set -euo pipefail

REPO=$1 OUT=$2 VERSION=$3
: "${CARGO_TARGET_DIR:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2> /dev/null || gcc -print-multiarch)
STAGE=$CARGO_TARGET_DIR/deb/portpool_${VERSION}_$ARCH
DEB=$OUT/portpool_${VERSION}_$ARCH.deb

name=${DEBFULLNAME:-$(git -C "$REPO" config user.name || true)}
email=${DEBEMAIL:-$(git -C "$REPO" config user.email || true)}
if [ -z "$name" ] || [ -z "$email" ]; then
    echo "make deb: set DEBFULLNAME and DEBEMAIL (or git's user.name and user.email): the package's Maintainer" >&2
    exit 2
fi

rm -rf "$STAGE"
make -C "$REPO" --no-print-directory install PREFIX=/usr LIBSUBDIR="lib/$MULTIARCH" DESTDIR="$STAGE"

# Debian's documentation conventions: compressed manual pages, a copyright file and a
# changelog in /usr/share/doc/portpool.
find "$STAGE/usr/share/man" -type f -name '*.1' -exec gzip -9n {} +
doc=$STAGE/usr/share/doc/portpool
install -d "$doc"
install -m 0644 "$HERE/copyright" "$doc/copyright"
{
    echo "portpool ($VERSION) unstable; urgency=medium"
    echo
    echo "  * Release $VERSION: see README.md for what it does."
    echo
    echo " -- $name <$email>  $(date -R -d "@$(git -C "$REPO" log -1 --format=%ct)")"
} | gzip -9n > "$doc/changelog.gz"
# README.md, compressed as Debian compresses documentation.
gzip -9n < "$REPO/README.md" > "$doc/README.md.gz"
# The portserver's systemd unit came with `make install` (in /usr/lib/systemd/system),
# shipped disabled (no postinst enables or starts it): `systemctl enable --now
# portpool-portserver` turns it on. So did the reserve path unit and its service, which the
# postinst enables.

# Directories 0755 and files 0644 (0755 for programs), whatever the umask of the build; a
# shared library is not a program.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f -exec chmod go-w {} +
chmod 0644 "$STAGE"/usr/lib/"$MULTIARCH"/libportpool.so.*.*
# Stripped as Debian's dh_strip strips: symbol tables off the programs and shared library,
# debug sections off the static library.
strip --remove-section=.comment --remove-section=.note "$STAGE/usr/bin/portpool"
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
    "$STAGE"/usr/lib/"$MULTIARCH"/libportpool.so.*.*
strip --strip-debug --remove-section=.comment --remove-section=.note \
    --enable-deterministic-archives "$STAGE/usr/lib/$MULTIARCH/libportpool.a"

# Depends, from what the binaries need (dpkg-shlibdeps' answer, without a debian/ tree): libc6
# from the highest GLIBC_ symbol version they use (2.17 for the binaries of `make build-dist`),
# libgcc-s1 if one needs libgcc_s.so.1.
elves=("$STAGE/usr/bin/portpool" "$STAGE"/usr/lib/"$MULTIARCH"/libportpool.so.*.*)
libc_min=$(objdump -T "${elves[@]}" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
[ -n "$libc_min" ] || { echo "make deb: no GLIBC_ symbol version in ${elves[*]}" >&2; exit 1; }
depends="libc6 (>= $libc_min)"
for needed in $(objdump -p "${elves[@]}" | awk '$1 == "NEEDED" { print $2 }' | sort -u); do
    case $needed in
        libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | libutil.so.1 | ld-linux-*.so.2) ;;
        libgcc_s.so.1) depends="$depends, libgcc-s1" ;;
        *) echo "make deb: a binary needs $needed, which no Depends names" >&2; exit 1 ;;
    esac
done

install -d "$STAGE/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size/" \
    -e "s/@MAINTAINER@/$name <$email>/" -e "s/@DEPENDS@/$depends/" "$HERE/control.in" > "$STAGE/DEBIAN/control"
install -m 0755 "$HERE/postinst" "$HERE/postrm" "$STAGE/DEBIAN/"
install -m 0644 "$HERE/triggers" "$STAGE/DEBIAN/"
# What a package linking libportpool.so.0 depends on (dpkg-shlibdeps reads it).
echo "libportpool 0 portpool (>= $VERSION)" > "$STAGE/DEBIAN/shlibs"
chmod 0644 "$STAGE/DEBIAN/shlibs"
(cd "$STAGE" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/md5sums"

mkdir -p "$OUT"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" > /dev/null
echo "$DEB"
