#!/usr/bin/env bash
# What `make test-dist` runs after the artefacts' own checks: README's install blocks, verbatim,
# as a newcomer would run them. A block is marked by the line before its ```sh fence:
#
#   <!-- readme-check: NAME WHERE -->
#
# and runs with bash -euo pipefail in a fresh directory, with a fresh $HOME, in a private mount
# namespace whose /usr, /etc and /var are overlays on a scratch directory (what a block
# installs, even as root, never reaches the host). WHERE says what the directory holds:
#   dist   dist/ (the release artefacts) and the newcomer's own program (app.c or main.go);
#   clone  a clean copy of the clone (tracked and new files, as `make dist` packs it);
#   deb    as dist, with the .deb installed first (dpkg -i).
# `sudo` is sudo as Debian configures it for root: the command, with secure_path's PATH (no
# ~/.cargo/bin) and nothing else of the environment but HOME and CARGO_TARGET_DIR.
# npm must print no warning. README's sizes table must describe dist/ (scripts/readme-sizes.py
# rewrites it). Fails on the first block that fails, naming it.
#
# Usage: readme-check.sh REPO DIST [NAME...]   (as root; with $CARGO_TARGET_DIR set)
set -euo pipefail

REPO=$(realpath "$1") DIST=$(realpath "$2")
shift 2
: "${CARGO_TARGET_DIR:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "readme-check: run as root (private mount namespaces, the .deb)" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "readme-check: FAIL: $*" >&2; exit 1; }
has_pip() { grep -q '^pip ' "$1"; }

# blocks: "NAME WHERE" for each marked block of README.md, in order.
blocks() { sed -n 's/^<!-- readme-check: \([a-z0-9-]*\) \([a-z]*\) -->$/\1 \2/p' "$REPO/README.md"; }
# block NAME: the text of the block marked NAME.
block() {
    awk -v name="$1" '
        index($0, "<!-- readme-check: " name " ") == 1 { want = 1; next }
        want && /^```/ { if (inside) exit; inside = 1; next }
        want && inside { print }
    ' "$REPO/README.md"
}

"$HERE/readme-sizes.py" --check "$REPO/README.md" "$DIST" || fail "README's sizes table is stale: make readme-sizes"

# The clean copy of the clone that `make dist` made (or one made here).
tree=$CARGO_TARGET_DIR/dist-tree
if [ ! -f "$tree/Cargo.toml" ]; then
    mkdir -p "$scratch/tree"
    git -C "$REPO" ls-files -z --cached --others --exclude-standard \
        | (cd "$REPO" && tar --null -T - -cf -) | tar -xf - -C "$scratch/tree"
    tree=$scratch/tree
fi

gocache=$(go env GOCACHE)
# The real interpreter (not pyenv's shim, which needs the real $HOME): a fresh virtualenv on
# PATH is the newcomer's Python for the pip blocks.
python=$(python3.11 -c 'import sys; print(sys.executable)')
ran=0
while read -r name where; do
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx -- "$name"; then continue; fi
    printf '\n== readme-check: %s (%s)\n' "$name" "$where"
    dir=$scratch/$name home=$scratch/home-$name
    mkdir -p "$home"
    block "$name" > "$scratch/$name.sh"
    [ -s "$scratch/$name.sh" ] || fail "$name: empty block"
    case $where in
        clone) cp -a "$tree" "$dir" ;;
        dist | deb)
            mkdir -p "$dir"
            ln -s "$DIST" "$dir/dist"
            # The newcomer's program: app.c for a block that compiles it, main.go for one
            # that builds a Go module (the go command would refuse a C file beside it).
            if grep -q 'app\.c' "$scratch/$name.sh"; then cp "$HERE/readme-check/app.c" "$dir/"; fi
            if grep -q '^go build' "$scratch/$name.sh"; then cp "$HERE/readme-check/main.go" "$dir/"; fi
            ;;
        *) fail "$name: unknown WHERE '$where'" ;;
    esac
    sed 's/^/    /' "$scratch/$name.sh"
    path=$PATH
    if has_pip "$scratch/$name.sh"; then
        "$python" -m venv "$scratch/venv-$name"
        path=$scratch/venv-$name/bin:$PATH
    fi
    # rustup and cargo keep their homes (toolchains, the crate cache); `cargo install` goes
    # to the fresh ~/.cargo/bin.
    env -i PATH="$path" HOME="$home" LANG=C.UTF-8 CARGO_TARGET_DIR="$CARGO_TARGET_DIR" \
        CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
        CARGO_INSTALL_ROOT="$home/.cargo" GOCACHE="$gocache" GOPROXY=off GOTOOLCHAIN=local \
        PORTPOOL_REGISTRY="$scratch/registry.json" \
        unshare --mount --propagation private bash -euo pipefail -c '
        scratch=$1 dir=$2 where=$3 block=$4 dist=$5
        for d in usr etc var; do
            mkdir -p "$scratch/ovl/$d/up" "$scratch/ovl/$d/work" "/$d"
            mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/ovl/$d/up,workdir=$scratch/ovl/$d/work" "/$d"
        done
        if [ "$where" = deb ]; then dpkg -i "$dist"/portpool_*.deb > /dev/null; fi
        sudo() {
            env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
                CARGO_TARGET_DIR="$CARGO_TARGET_DIR" "$@"
        }
        # npm 11 (the one that warns about install scripts), whatever npm the host has; any
        # warning fails the block.
        npm() {
            local s=0
            if [ "$(command npm --version | cut -d. -f1)" -ge 11 ]; then
                command npm "$@" 2> "$scratch/npm.err" || s=$?
            else
                command npx --yes npm@11 "$@" 2> "$scratch/npm.err" || s=$?
            fi
            cat "$scratch/npm.err" >&2
            if grep -qi "warn" "$scratch/npm.err"; then echo "npm warned" >&2; return 1; fi
            return $s
        }
        cd "$dir"
        . "$block"
        rm -rf "$scratch/ovl"
    ' readme-check "$scratch/run-$name" "$dir" "$where" "$scratch/$name.sh" "$DIST" \
        || fail "README block $name ($where)"
    rm -rf "$dir" "$home" "$scratch/venv-$name"
    ran=$((ran + 1))
done < <(blocks)
[ "$ran" -gt 0 ] || fail "no README block ran"
echo "readme-check: $ran README blocks ran as written"
