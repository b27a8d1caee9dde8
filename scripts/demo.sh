#!/usr/bin/env bash
# The main job of portpool, on a scratch registry that is removed afterwards.
set -euo pipefail
PORTPOOL=${PORTPOOL:-portpool}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export PORTPOOL_REGISTRY=$scratch/registry.json

say() { printf '\n# %s\n' "$*"; }
run() {
    printf '$ portpool %s\n' "$*"
    local code=0
    "$PORTPOOL" "$@" || code=$?
    [ "$code" = 0 ] || printf '(exit %s)\n' "$code"
}

say "A scratch registry: $PORTPOOL_REGISTRY"
say "Flexible registration: the preferred port, or the next free one above it"
run register web 18080
run register api 18080
say "A name that holds a lease gets the same port back; nothing is written"
run register web 18080
say "Fixed registration: exactly that port, or a conflict naming the holder (exit 3)"
run register db 15432 fixed
run register other-db 15432 fixed
say "A pool with a round-robin cursor shared by every process on the host"
run pool set workers 19100 19102
run allocate worker-1 --pool workers
run allocate worker-2 --pool workers
run allocate worker-3 --pool workers
run release worker-1
say "The cursor wraps, skipping ports that are still leased; a full pool is exhausted (exit 4)"
run allocate worker-4 --pool workers
run allocate worker-5 --pool workers
say "Who holds what"
run list
run check 18080
say "Scripts read single values"
printf '$ PORT=$(portpool get api) && echo "api listens on $PORT"\n'
PORT=$("$PORTPOOL" get api) && echo "api listens on $PORT"
say "A server gets its port already bound (fd 3, systemd's protocol): nothing can slip in between"
run run demo-server --port 18090 --listen -- python3 -c 'import os, socket; s = socket.socket(fileno=3); print("fd 3 listens on port", s.getsockname()[1], "for", os.environ["LISTEN_FDNAMES"])'
say "Its lease ended with it"
run get demo-server
say "The registry file itself (format: docs/registry-format.md)"
cat "$PORTPOOL_REGISTRY"
