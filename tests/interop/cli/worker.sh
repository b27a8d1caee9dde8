#!/usr/bin/env bash
# Interop worker for the CLI: `worker.sh REGISTRY WORKER_ID OPS LOG`, with $PORTPOOL naming the
# portpool binary.
#
# Runs the cycle every interop worker runs (see ../README.md) against pool "interop" of
# REGISTRY, one `portpool` process per call, and writes one JSON object per line to LOG. A
# listing is logged as `portpool list --json` printed it, for the driver to parse. OPS 0 only
# lists the registry once and logs what it saw. Any failed call exits 1 with portpool's message
# on stderr.
set -euo pipefail

if [ $# -ne 4 ]; then
    echo "usage: $0 REGISTRY WORKER_ID OPS LOG" >&2
    exit 2
fi
registry=$1 id=$2 ops=$3 log=$4
: "${PORTPOOL:?set PORTPOOL to the portpool binary}"
readonly POOL=interop
count=0
exec 3>"$log"

# One portpool call, counted; its stdout is in $out. Any failure ends the worker.
pp() {
    if ! out=$("$PORTPOOL" --registry "$registry" "$@"); then
        echo "worker $id: portpool $* failed" >&2
        exit 1
    fi
    count=$((count + 1))
}

die() {
    echo "worker $id: $*" >&2
    exit 1
}

# CLOCK_REALTIME in nanoseconds.
now() { date +%s%N; }

# Logged only after the call that leased the port returned.
acquired() { printf '{"ev":"acq","name":"%s","port":%s,"t":%s}\n' "$1" "$2" "$(now)" >&3; }
# Logged before the call that releases the port.
released() { printf '{"ev":"rel","name":"%s","port":%s,"t":%s}\n' "$1" "$2" "$(now)" >&3; }

# held NAME PORT NEXT: a JSON object for the "own" list of a listing (NEXT "null": none).
held() { printf '{"name":"%s","port":%s,"next":%s}' "$1" "$2" "$3"; }

# list_and_log EV OWN: lists the registry and logs the listing beside OWN (a JSON array).
list_and_log() {
    pp list --json
    printf '{"ev":"%s","own":%s,"leases":%s}\n' "$1" "$2" "${out//$'\n'/}" >&3
}

if [ "$ops" -eq 0 ]; then
    list_and_log seen '[]'
else
    keep_a=$id-keep-a keep_b=$id-keep-b
    pp allocate "$keep_a" --pool $POOL; port_a=$out; acquired "$keep_a" "$port_a"
    pp allocate "$keep_b" --pool $POOL; port_b=$out; acquired "$keep_b" "$port_b"
    i=0
    while [ "$count" -lt "$ops" ]; do
        name=$id-t$i
        pp allocate "$name" --pool $POOL; port=$out; acquired "$name" "$port"
        kind=$((i % 3)) # 0: hand over and commit, 1: hand over and abort, 2: neither
        next=null
        if [ $kind -ne 2 ]; then
            pp handover "$name"; next=$out; acquired "$name" "$next"
        fi
        list_and_log list "[$(held "$keep_a" "$port_a" null),$(held "$keep_b" "$port_b" null),$(held "$name" "$port" "$next")]"
        if [ $kind -eq 0 ]; then
            released "$name" "$port"
            pp handover "$name" --commit
            [ "$out" = "$next" ] || die "handover --commit printed $out, handover gave $next"
            port=$next
        elif [ $kind -eq 1 ]; then
            released "$name" "$next"
            pp handover "$name" --abort
        fi
        released "$name" "$port"
        pp release "$name"
        [ "$out" = "released $name" ] || die "release printed: $out"
        i=$((i + 1))
    done
    pp handover "$keep_a"; next=$out; acquired "$keep_a" "$next"
    released "$keep_a" "$port_a"
    pp handover "$keep_a" --commit
    [ "$out" = "$next" ] || die "handover --commit printed $out, handover gave $next"
    port_a=$next
    printf '{"ev":"keep","name":"%s","port":%s}\n' "$keep_a" "$port_a" "$keep_b" "$port_b" >&3
fi
printf '{"ev":"done","ops":%s}\n' "$count" >&3
exec 3>&-
