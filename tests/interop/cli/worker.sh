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

# acquired NAME PORT PROTO: logged only after the call that leased the port returned.
acquired() { printf '{"ev":"acq","name":"%s","port":%s,"proto":"%s","t":%s}\n' "$1" "$2" "$3" "$(now)" >&3; }
# released NAME PORT PROTO: logged before the call that releases the port.
released() { printf '{"ev":"rel","name":"%s","port":%s,"proto":"%s","t":%s}\n' "$1" "$2" "$3" "$(now)" >&3; }

# held NAME PORT PROTO NEXT: a JSON object for the "own" list of a listing (NEXT null: none).
held() { printf '{"name":"%s","port":%s,"protocol":"%s","next":%s}' "$@"; }

# list_and_log EV OWN: lists the registry and logs the listing beside OWN (a JSON array).
list_and_log() {
    pp list --json
    printf '{"ev":"%s","own":%s,"leases":%s}\n' "$1" "$2" "${out//$'\n'/}" >&3
}

# allocate NAME PROTO: leases a port of the pool to NAME; the port is in $out.
allocate() {
    pp allocate "$1" --pool $POOL --protocol "$2"
    acquired "$1" "$out" "$2"
}

if [ "$ops" -eq 0 ]; then
    list_and_log seen '[]'
else
    keep_a=$id-keep-a keep_b=$id-keep-b
    allocate "$keep_a" tcp; port_a=$out
    allocate "$keep_b" udp; port_b=$out
    i=0
    while [ "$count" -lt "$ops" ]; do
        name=$id-t$i
        protos=(tcp udp tcp+udp)
        proto=${protos[(i / 3) % 3]}
        allocate "$name" $proto; port=$out
        kind=$((i % 3)) # 0: hand over and commit, 1: hand over and abort, 2: neither
        next=null
        if [ $kind -ne 2 ]; then
            pp handover "$name"; next=$out; acquired "$name" "$next" $proto
        fi
        list_and_log list "[$(held "$keep_a" "$port_a" tcp null),$(held "$keep_b" "$port_b" udp null),$(held "$name" "$port" $proto "$next")]"
        if [ $kind -eq 0 ]; then
            released "$name" "$port" $proto
            pp handover "$name" --commit
            [ "$out" = "$next" ] || die "handover --commit printed $out, handover gave $next"
            port=$next
        elif [ $kind -eq 1 ]; then
            released "$name" "$next" $proto
            pp handover "$name" --abort
            [ "$out" = "$next" ] || die "handover --abort printed $out, handover gave $next"
        else
            # A commit with no handover under way: the one error the run expects (not found,
            # exit 1).
            status=0
            "$PORTPOOL" --registry "$registry" handover "$name" --commit >/dev/null 2>&1 || status=$?
            [ $status -eq 1 ] || die "handover --commit without a handover exited $status, not 1"
            count=$((count + 1))
        fi
        released "$name" "$port" $proto
        pp release "$name"
        [ "$out" = "released $name" ] || die "release printed: $out"
        i=$((i + 1))
    done
    pp handover "$keep_a"; next=$out; acquired "$keep_a" "$next" tcp
    released "$keep_a" "$port_a" tcp
    pp handover "$keep_a" --commit
    [ "$out" = "$next" ] || die "handover --commit printed $out, handover gave $next"
    port_a=$next
    printf '{"ev":"keep","name":"%s","port":%s,"protocol":"%s"}\n' \
        "$keep_a" "$port_a" tcp "$keep_b" "$port_b" udp >&3
fi
printf '{"ev":"done","ops":%s}\n' "$count" >&3
exec 3>&-
