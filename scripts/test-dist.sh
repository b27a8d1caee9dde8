#!/usr/bin/env bash
# What `make test-dist` runs: installs every artefact of dist/ the way its users would — the
# CLI and the libportpool tarball into a scratch prefix, `make install` into another, the Go
# package in a module outside the repository, the wheel and the sdist into fresh virtualenvs,
# the npm tarball into a fresh project with no Rust toolchain on PATH — and has each front end
# read one lease the CLI made, in one shared registry, and add its own.
#
# Also `cargo install --path cli` and `pip install ./bindings/python`, as README gives them.
#
# Usage: test-dist.sh REPO DIST VERSION   (with $CARGO_TARGET_DIR, $PYTHON and $VPY, the
#        virtualenv interpreter that has auditwheel, set by the Makefile)
set -euo pipefail

REPO=$1 DIST=$2 VERSION=$3
: "${PYTHON:?}" "${VPY:?}" "${CARGO_TARGET_DIR:?}"
ARCH=$(uname -m)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export PORTPOOL_REGISTRY=$scratch/registry.json
PREFIX=$scratch/prefix
mkdir -p "$PREFIX/bin"

step() { printf '\n== test-dist: %s\n' "$*"; }
fail() { echo "test-dist: FAIL: $*" >&2; exit 1; }
# expect WHAT GOT WANT
expect() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
# (No `cmd | grep -q` here: with pipefail, grep leaving early makes cmd's SIGPIPE the status.)
no_debug_info() {
    local sections
    sections=$(readelf -S --wide "$1") || fail "readelf $1"
    case $sections in *.debug_info*) fail "$1 carries debug info" ;; esac
}
has() { grep "$@" > /dev/null; }
size_of() { stat -c %s "$1"; }

step "the artefacts"
ls -l "$DIST"
cli=$DIST/portpool-$VERSION-linux-$ARCH
lib_tarball=$DIST/libportpool-$VERSION-linux-$ARCH.tar.gz
wheel=$(ls "$DIST"/portpool-"$VERSION"-cp311-abi3-manylinux*_"$ARCH".whl)
sdist=$DIST/portpool-$VERSION.tar.gz
npm_tarball=$DIST/portpool-$VERSION.tgz
for f in "$cli" "$lib_tarball" "$wheel" "$sdist" "$npm_tarball" "$DIST/SHA256SUMS"; do
    [ -f "$f" ] || fail "missing $f"
done
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS"

step "CLI: installed into a scratch prefix; it makes the lease every front end reads"
install -m 0755 "$cli" "$PREFIX/bin/portpool"
no_debug_info "$PREFIX/bin/portpool"
expect "portpool --version" "$("$PREFIX/bin/portpool" --version)" "portpool $VERSION"
shared=$("$PREFIX/bin/portpool" register dist-smoke 24600)
echo "dist-smoke holds $shared"
"$PREFIX/bin/portpool" completions bash | bash -n || fail "bash completions"
"$PREFIX/bin/portpool" man | head -n 5 | has '^\.TH portpool 1' || fail "man page (head closes the pipe early)"

step "CLI: cargo install --path cli, as README says (into a scratch root)"
cargo install --quiet --locked --path "$REPO/cli" --root "$scratch/cargo-root"
expect "cargo-installed portpool" "$("$scratch/cargo-root/bin/portpool" get dist-smoke)" "$shared"

step "libportpool: the tarball unpacked into the prefix"
tar -xzf "$lib_tarball" -C "$PREFIX" --strip-components=1
lib=$PREFIX/lib
expect "libportpool.so" "$(readlink "$lib/libportpool.so")" libportpool.so.0
expect "libportpool.so.0" "$(readlink "$lib/libportpool.so.0")" "libportpool.so.$VERSION"
readelf -d "$lib/libportpool.so.$VERSION" | has 'SONAME.*\[libportpool\.so\.0\]' || fail "SONAME"
no_debug_info "$lib/libportpool.so.$VERSION"
no_debug_info "$lib/libportpool.a"
cmp "$REPO/include/portpool.h" "$PREFIX/include/portpool.h"
export PKG_CONFIG_PATH=$lib/pkgconfig
expect "pkg-config --modversion" "$(pkg-config --modversion portpool)" "$VERSION"
cat > "$scratch/smoke.c" <<'C'
#include <stdio.h>
#include <portpool.h>
/* Prints the port of "dist-smoke", then allocates one for argv[1]; NULL: $PORTPOOL_REGISTRY. */
int main(int argc, char **argv) {
    portpool_registry *reg = NULL;
    portpool_error *err = NULL;
    uint16_t shared, own;
    if (argc != 2 || portpool_open(NULL, &reg, &err) != PORTPOOL_OK ||
        portpool_get(reg, "dist-smoke", &shared, &err) != PORTPOOL_OK ||
        portpool_allocate(reg, argv[1], NULL, &own, &err) != PORTPOOL_OK) {
        fprintf(stderr, "smoke: %s\n", err ? portpool_error_message(err) : "usage: smoke NAME");
        portpool_error_free(err);
        return 1;
    }
    printf("%u\n", (unsigned)shared);
    portpool_close(reg);
    return 0;
}
C
cc -std=c99 -Wall -Werror "$scratch/smoke.c" $(pkg-config --cflags --libs portpool) -o "$scratch/smoke-c"
readelf -d "$scratch/smoke-c" | has 'NEEDED.*\[libportpool\.so\.0\]' || fail "C: not linked to libportpool.so.0"
cc -std=c99 -Wall -Werror -static "$scratch/smoke.c" $(pkg-config --static --cflags --libs portpool) \
    -o "$scratch/smoke-c-static" 2> "$scratch/static.log" || { cat "$scratch/static.log" >&2; fail "static link"; }
expect "C (shared library, no LD_LIBRARY_PATH)" "$(env -u LD_LIBRARY_PATH "$scratch/smoke-c" from-c)" "$shared"
expect "C (static)" "$("$scratch/smoke-c-static" from-c-static)" "$shared"

# A module outside the repository using the installed Go package through `replace`; a plain
# `go build`: no CGO_* variable, nothing fetched.
go_smoke() {  # go_smoke PACKAGE_DIR NAME
    local app=$scratch/goapp-$2
    mkdir -p "$app"
    cat > "$app/main.go" <<'GO'
package main

import (
	"fmt"
	"os"

	"portpool"
)

func main() {
	reg, err := portpool.Open("") // "": $PORTPOOL_REGISTRY
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	shared, err := reg.Get("dist-smoke")
	if err != nil {
		panic(err)
	}
	if _, err := reg.Allocate(os.Args[1], ""); err != nil {
		panic(err)
	}
	fmt.Println(shared)
}
GO
    printf 'module goapp\n\ngo 1.22\n\nrequire portpool v0.0.0\n\nreplace portpool => %s\n' "$1" > "$app/go.mod"
    (cd "$app" && env -i PATH="$PATH" HOME="$HOME" PKG_CONFIG_PATH="$PKG_CONFIG_PATH" GOPROXY=off \
        GOTOOLCHAIN=local go build -o app .)
    readelf -d "$app/app" | has 'NEEDED.*\[libportpool\.so\.0\]' || fail "Go: not linked to libportpool.so.0"
    expect "Go ($2, no LD_LIBRARY_PATH)" \
        "$(env -i PORTPOOL_REGISTRY="$PORTPOOL_REGISTRY" "$app/app" "from-go-$2")" "$shared"
}
step "Go: the package from the tarball, linked through pkg-config"
go_smoke "$PREFIX/share/gocode/src/portpool" tarball
out=$(cd "$PREFIX/share/gocode/src/portpool" && CGO_ENABLED=0 GOPROXY=off go build ./... 2>&1) && fail "CGO_ENABLED=0 built"
echo "$out" | has requires_cgo || fail "CGO_ENABLED=0: $out"

step "make install PREFIX=... (CLI, man pages, completions, libportpool, Go package)"
installed=$scratch/installed
make -s -C "$REPO" install PREFIX="$installed" > "$scratch/install.log" 2>&1 || { cat "$scratch/install.log" >&2; fail "make install"; }
for f in bin/portpool share/man/man1/portpool.1 share/man/man1/portpool-register.1 \
    share/bash-completion/completions/portpool share/zsh/site-functions/_portpool \
    share/fish/vendor_completions.d/portpool.fish include/portpool.h lib/libportpool.a \
    lib/libportpool.so lib/libportpool.so.0 "lib/libportpool.so.$VERSION" lib/pkgconfig/portpool.pc \
    share/gocode/src/portpool/go.mod; do
    [ -e "$installed/$f" ] || fail "make install: no $f"
done
grep -qx "prefix=$installed" "$installed/lib/pkgconfig/portpool.pc" || fail "portpool.pc prefix"
PKG_CONFIG_PATH=$installed/lib/pkgconfig go_smoke "$installed/share/gocode/src/portpool" installed

step "Python: the wheel (auditwheel), into a fresh virtualenv"
"$VPY" -m auditwheel show "$wheel" | tee "$scratch/auditwheel"
tr '\n' ' ' < "$scratch/auditwheel" | has 'is consistent with the following platform tag: "manylinux_' \
    || fail "auditwheel does not accept $wheel"
py_smoke() {  # py_smoke VENV NAME
    expect "Python ($2)" "$("$1/bin/python" - "$2" <<'PY'
import sys
import portpool

reg = portpool.Registry()  # $PORTPOOL_REGISTRY
reg.allocate(f"from-python-{sys.argv[1]}")
print(reg.get("dist-smoke"))
PY
)" "$shared"
}
"$PYTHON" -m venv "$scratch/venv-wheel"
"$scratch/venv-wheel/bin/pip" install --quiet --disable-pip-version-check --no-index "$wheel"
py_smoke "$scratch/venv-wheel" wheel

step "Python: the sdist, built by pip (maturin from PyPI, cargo) into another virtualenv"
"$PYTHON" -m venv "$scratch/venv-sdist"
"$scratch/venv-sdist/bin/pip" install --quiet --disable-pip-version-check "$sdist"
py_smoke "$scratch/venv-sdist" sdist

step "Python: pip install ./bindings/python from the clone, as README says"
"$PYTHON" -m venv "$scratch/venv-clone"
"$scratch/venv-clone/bin/pip" install --quiet --disable-pip-version-check "$REPO/bindings/python"
py_smoke "$scratch/venv-clone" clone

step "Node: the npm tarball, into a fresh project, with no Rust toolchain on PATH"
tar -tzf "$npm_tarball" | has -x 'package/portpool.node' || fail "the npm tarball has no addon"
for license in LICENSE-MIT LICENSE-APACHE; do
    tar -tzf "$npm_tarball" | has -x "package/$license" || fail "the npm tarball has no $license"
    unzip -l "$wheel" | has "dist-info/licenses/$license" || fail "the wheel has no $license"
done
tar -xzf "$npm_tarball" -C "$scratch" package/package.json
node -e 'const s = require(process.argv[1]).scripts || {}; for (const h of ["preinstall", "install", "postinstall"]) if (s[h]) { console.error(h); process.exit(1) }' \
    "$scratch/package/package.json" || fail "the npm package has an install script"
tar -xzf "$npm_tarball" -C "$scratch" package/portpool.node
no_debug_info "$scratch/package/portpool.node"
[ "$(size_of "$scratch/package/portpool.node")" -lt 5000000 ] || fail "the addon is not a release build"
node_dir=$(dirname "$(command -v node)")
npm_dir=$(dirname "$(command -v npm)")
bare_path=$node_dir:$npm_dir:/usr/bin:/bin
env PATH="$bare_path" sh -c '! command -v cargo && ! command -v rustc' > /dev/null \
    || fail "cargo or rustc is on $bare_path"
app=$scratch/node-app
mkdir -p "$app"
echo '{"name": "node-app", "version": "1.0.0", "private": true}' > "$app/package.json"
(cd "$app" && env PATH="$bare_path" HOME="$HOME" npm install --no-audit --no-fund --loglevel=error "$npm_tarball")
expect "Node" "$(cd "$app" && env PATH="$bare_path" PORTPOOL_REGISTRY="$PORTPOOL_REGISTRY" node -e '
const { Registry } = require("portpool")
const reg = new Registry()
reg.allocate("from-node")
console.log(reg.get("dist-smoke"))
')" "$shared"
cat > "$app/check.mts" <<'TS'
import { Registry, isPortpoolError, type PortpoolError, type PortpoolErrorCode } from 'portpool'
try {
  new Registry().allocate('w', { pool: 'none' })
} catch (err) {
  const code: PortpoolErrorCode | undefined = isPortpoolError(err) ? err.code : undefined
  const typed: PortpoolError | undefined = isPortpoolError(err) ? err : undefined
  console.log(code, typed?.message)
}
TS
(cd "$app" && node "$REPO/bindings/node/node_modules/typescript/bin/tsc" --noEmit --strict \
    --module nodenext --moduleResolution nodenext --target es2022 check.mts) || fail "TypeScript"

step "one registry: every front end read the CLI's lease, and the CLI sees all of theirs"
"$PREFIX/bin/portpool" list
names=$("$PREFIX/bin/portpool" list --json | "$VPY" -c 'import json,sys; print(" ".join(l["name"] for l in json.load(sys.stdin)))')
expect "leases" "$names" "dist-smoke from-c from-c-static from-go-installed from-go-tarball from-node from-python-clone from-python-sdist from-python-wheel"
echo
echo "make test-dist: every artefact installed and read the same lease"
