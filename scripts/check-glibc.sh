#!/usr/bin/env bash
# What `make test-dist` runs first: every binary of dist/ runs on glibc 2.17 (RHEL/CentOS 7,
# manylinux2014) and newer. Unpacks each artefact as its users get it — the CLI, the
# libportpool tarball, the .deb, the npm tarball and the wheel — and fails, naming the file,
# the symbol and its version, when a shared object or program needs a GLIBC_ symbol version
# above 2.17 (objdump -T). Each static libportpool.a is linked whole, by zig against glibc
# 2.17's own symbol list, into a probe library that must link and pass the same check.
# auditwheel must find the wheel consistent with manylinux2014 (manylinux_2_17).
#
# Usage: check-glibc.sh DIST VERSION   (with $VPY, the virtualenv interpreter that has
#        auditwheel, and $ZIG, the zig that built the artefacts, set by the Makefile)
set -euo pipefail

DIST=$1 VERSION=$2
: "${VPY:?}" "${ZIG:?}"
GLIBC_MAX=2.17
ARCH=$(uname -m)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

step() { printf '\n== check-glibc: %s\n' "$*"; }
fail() { echo "check-glibc: FAIL: $*" >&2; exit 1; }
one() {  # one PATTERN: the one file of dist/ that matches
    local found=("$DIST"/$1)
    [ ${#found[@]} = 1 ] && [ -f "${found[0]}" ] || fail "want one $DIST/$1, found: ${found[*]}"
    echo "${found[0]}"
}

# too_new FILE: prints "FILE: SYMBOL needs GLIBC_x.y" for each dynamic symbol above GLIBC_MAX.
too_new() {
    local table
    table=$(objdump -T "$1") || fail "objdump -T $1"
    printf '%s\n' "$table" | awk -v file="$1" -v max="$GLIBC_MAX" '
        function newer(v, m,   a, b, i) {
            split(v, a, "."); split(m, b, ".")
            for (i = 1; i <= 3; i++) if (a[i] + 0 != b[i] + 0) return a[i] + 0 > b[i] + 0
            return 0
        }
        {
            for (i = 1; i <= NF; i++) if ($i ~ /^\(?GLIBC_[0-9.]+\)?$/) {
                v = $i; gsub(/[()]|GLIBC_/, "", v)
                if (newer(v, max)) printf "%s: %s needs GLIBC_%s\n", file, $NF, v
            }
        }'
}

checked=0
offences=$scratch/offences
: > "$offences"
check_elf() {
    too_new "$1" >> "$offences"
    checked=$((checked + 1))
    echo "  $1"
}
# An archive is no dynamic object: its objects, linked whole against glibc 2.17's symbols
# (zig's stubs: a symbol 2.17 lacks does not link), must make a library that passes.
check_archive() {
    local probe=$scratch/probe-$checked.so
    "$ZIG" cc -target "$ARCH-linux-gnu.$GLIBC_MAX" -shared -o "$probe" \
        -Wl,--whole-archive "$1" -Wl,--no-whole-archive -Wl,-z,defs \
        -lpthread -ldl -lm -lrt -lutil -lunwind 2> "$scratch/link.log" \
        || { cat "$scratch/link.log" >&2; fail "$1 does not link against glibc $GLIBC_MAX"; }
    too_new "$probe" | sed "s|^$probe|$1 (linked whole)|" >> "$offences"
    checked=$((checked + 1))
    echo "  $1 (linked whole against glibc $GLIBC_MAX)"
}
is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

step "unpacking every artefact of $DIST"
mkdir -p "$scratch/lib" "$scratch/deb" "$scratch/npm" "$scratch/wheel"
cli=$(one "portpool-$VERSION-linux-$ARCH")
tar -xzf "$(one "libportpool-$VERSION-linux-$ARCH.tar.gz")" -C "$scratch/lib"
dpkg-deb -x "$(one "portpool_${VERSION}_*.deb")" "$scratch/deb"
tar -xzf "$(one "portpool-$VERSION.tgz")" -C "$scratch/npm"
wheel=$(one "portpool-$VERSION-*.whl")
(cd "$scratch/wheel" && unzip -q "$wheel")

step "no binary needs a GLIBC_ symbol version above $GLIBC_MAX"
check_elf "$cli"
while IFS= read -r -d '' f; do
    case $f in
        *.a) check_archive "$f" ;;
        *) if is_elf "$f"; then check_elf "$f"; fi ;;
    esac
done < <(find "$scratch/lib" "$scratch/deb" "$scratch/npm" "$scratch/wheel" -type f -print0 | sort -z)
# What each artefact must have held: a missing binary would pass unchecked.
[ "$checked" -ge 8 ] || fail "only $checked binaries found (the CLI twice, libportpool .so and .a twice, the addon, the wheel's module)"
if [ -s "$offences" ]; then
    echo "check-glibc: FAIL: symbols newer than GLIBC_$GLIBC_MAX (the binary would not load on glibc $GLIBC_MAX):" >&2
    sed "s|$scratch/[a-z]*/||" "$offences" >&2
    exit 1
fi
echo "$checked binaries need nothing above GLIBC_$GLIBC_MAX"

step "auditwheel: the wheel is manylinux2014"
"$VPY" -m auditwheel show "$wheel" | tee "$scratch/auditwheel"
tr '\n' ' ' < "$scratch/auditwheel" | tr -s ' ' \
    | grep -F 'is consistent with the following platform tag: "manylinux_2_17_'"$ARCH"'"' > /dev/null \
    || fail "auditwheel does not find $wheel consistent with manylinux2014 (manylinux_2_17_$ARCH)"
case $(basename "$wheel") in
    *-manylinux2014_"$ARCH".* | *.manylinux2014_"$ARCH".*) ;;
    *) fail "$wheel is not tagged manylinux2014_$ARCH" ;;
esac
echo
echo "check-glibc: every shipped binary runs on glibc $GLIBC_MAX and newer"
