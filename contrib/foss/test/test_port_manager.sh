#!/usr/bin/env bash
# Tests contrib/foss/port_manager.sh as the FOSS stack uses it: sourced by installers (50 of
# them at once), and run as a command. Needs $PORTPOOL, the portpool binary to test. Every
# check runs on a scratch registry; the real one is never touched.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${PORTPOOL:?set PORTPOOL to the portpool binary}"
export PORTPOOL
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export PORTPOOL_REGISTRY=$scratch/registry.json

fail() { echo "test_port_manager: FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# The stack's layout: scripts/port_manager.sh and components/<name>/install.sh.
mkdir -p "$scratch/stack/scripts" "$scratch/stack/components/service"
cp "$HERE/../port_manager.sh" "$scratch/stack/scripts/port_manager.sh"
cp "$HERE/install_service.sh" "$scratch/stack/components/service/install.sh"
PM=$scratch/stack/scripts/port_manager.sh
INSTALL=$scratch/stack/components/service/install.sh

# A base port below the ephemeral range with 80 free ports above it.
base=$(( 21000 + ($$ % 400) * 10 ))

# --- 50 installers at once: 50 distinct ports, all stored ---------------------------------
for i in $(seq 1 50); do
    bash "$INSTALL" "svc_$i" "$base" > "$scratch/out.$i" 2> "$scratch/err.$i" &
done
wait
for i in $(seq 1 50); do
    [ -s "$scratch/err.$i" ] && fail "installer $i: $(cat "$scratch/err.$i")"
    grep -qx "Service will use port: [0-9][0-9]*" "$scratch/out.$i" || fail "installer $i: $(cat "$scratch/out.$i")"
done
ports=$(cat "$scratch"/out.* | sed 's/^Service will use port: //' | sort -n)
[ "$(echo "$ports" | wc -l)" -eq 50 ] || fail "50 ports expected"
[ "$(echo "$ports" | uniq | wc -l)" -eq 50 ] || fail "ports handed out twice: $(echo "$ports" | uniq -d | tr '\n' ' ')"
stored=$("$PORTPOOL" list | tail -n +2 | awk '{print $2}' | sort -n)
[ "$ports" = "$stored" ] || fail "printed ports differ from the stored ones"
pass "50 parallel installers got 50 distinct ports, each one stored"

# --- list: two header lines, then %-30s %s rows -------------------------------------------
"$PM" list > "$scratch/list"
[ "$(sed -n 1p "$scratch/list")" = "Current Port Allocations:" ] || fail "list header 1"
[ "$(sed -n 2p "$scratch/list")" = "=========================" ] || fail "list header 2"
[ "$(wc -l < "$scratch/list")" -eq 52 ] || fail "list: 50 rows expected"
expected=$("$PORTPOOL" list | tail -n +2 | while read -r n p _; do printf "%-30s %s\n" "$n" "$p"; done)
[ "$(tail -n +3 "$scratch/list")" = "$expected" ] || fail "list rows"
pass "list prints two header lines and %-30s %s rows"

# --- get: the stored port, or DEFAULT for an unknown name ---------------------------------
svc1=$("$PORTPOOL" get svc_1)
[ "$("$PM" get svc_1 1234)" = "$svc1" ] || fail "get svc_1"
[ "$("$PM" get no_such_service 1234)" = 1234 ] || fail "get prints DEFAULT for an unknown name"
# shellcheck source=../port_manager.sh
( source "$PM"; [ "$(get_port svc_1 1)" = "$svc1" ] && [ "$(get_port nope 4321)" = 4321 ] ) \
    || fail "get_port when sourced"
pass "get prints the stored port, or DEFAULT for an unknown name"

# --- register again: the same port, nothing moves -----------------------------------------
[ "$("$PM" register svc_1 "$base")" = "$svc1" ] || fail "a registered flexible name keeps its port"
[ "$("$PM" register svc_1 "$svc1" fixed)" = "$svc1" ] || fail "fixed on the port it holds"
pass "registering a name again prints the port it holds"

# --- conflict and exhaustion: nothing on stdout, a message on stderr, non-zero ------------
expect_refusal() {
    local what=$1; shift
    local status=0
    "$@" > "$scratch/stdout" 2> "$scratch/stderr" || status=$?
    [ "$status" -ne 0 ] || fail "$what: exit 0"
    [ ! -s "$scratch/stdout" ] || fail "$what printed $(cat "$scratch/stdout")"
    grep -q '^portpool: ' "$scratch/stderr" || fail "$what: no message on stderr"
}
expect_refusal "fixed port of another name" "$PM" register intruder "$svc1" fixed
expect_refusal "another fixed port for a name" "$PM" register svc_1 "$((svc1 + 1000))" fixed
"$PM" register top 65535 fixed > /dev/null 2>&1 || "$PORTPOOL" register top 65534 fixed > /dev/null
expect_refusal "exhausted range" "$PM" register overflow 65535
expect_refusal "invalid port" "$PM" register bad 70000
( source "$PM"; out=$(register_port intruder "$svc1" fixed 2> /dev/null) && exit 1; [ -z "$out" ] ) \
    || fail "register_port when sourced: a conflict must print nothing and fail"
"$PORTPOOL" get intruder > /dev/null 2>&1 && fail "a refused registration was stored"
pass "a conflict or an exhausted range prints nothing on stdout and fails"

# --- sourcing changes no shell state and works under set -euo pipefail --------------------
(
    set -euo pipefail
    before=$(set -o)
    source "$PM"
    [ "$before" = "$(set -o)" ] || exit 1
    port=$(register_port strict_svc "$base")
    [ "$(get_port strict_svc 1)" = "$port" ]
) || fail "sourced under set -euo pipefail"
pass "sourcing defines functions only, and works under set -euo pipefail"

# --- usage: as the original, exit 1; the text goes to stderr ------------------------------
status=0; "$PM" > "$scratch/stdout" 2> "$scratch/stderr" || status=$?
[ "$status" -eq 1 ] && [ ! -s "$scratch/stdout" ] && grep -q '^Usage:' "$scratch/stderr" || fail "usage"
status=0; "$PM" register only_a_name > /dev/null 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "register with too few arguments"
pass "usage errors exit 1 with the usage on stderr"

# --- migration: import the old port_allocation.json, then use the shim --------------------
old=$scratch/port_allocation.json
printf '{"keycloak":%d,"grafana":%d}\n' $((base + 100)) $((base + 101)) > "$old"
"$PORTPOOL" import "$old" > /dev/null
[ "$("$PM" get keycloak 8080)" = $((base + 100)) ] || fail "imported keycloak"
[ "$("$PM" register grafana 3000)" = $((base + 101)) ] || fail "imported grafana keeps its port"
pass "portpool import of port_allocation.json, then the shim reads the same ports"

echo "contrib/foss: port_manager.sh passed"
