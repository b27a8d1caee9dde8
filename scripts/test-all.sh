#!/usr/bin/env bash
# What `make test` runs: every suite named on the command line (make targets), each to its
# end whatever the others did, then the list of the suites that failed (exit 1 if any did).
# Before and after, scripts/host-state.sh fingerprints the host's users and groups files and
# ~/.cargo/bin: a suite that changed them fails `make test` too ("host-hygiene").
#
# Usage: test-all.sh SUITE...   (run from the repository's root, by the Makefile)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
before=$("$here/host-state.sh") || { echo "make test: cannot fingerprint the host" >&2; exit 1; }
failed=()
for suite in "$@"; do
    printf '\n== make test: %s\n' "$suite"
    if ! ${MAKE:-make} --no-print-directory "$suite"; then
        failed+=("$suite")
        printf '== make test: %s FAILED\n' "$suite" >&2
    fi
done
after=$("$here/host-state.sh")
if [ "$before" != "$after" ]; then
    echo "make test: the suites changed the host's users, groups or ~/.cargo/bin:" >&2
    diff <(echo "$before") <(echo "$after") >&2
    failed+=(host-hygiene)
fi
if [ ${#failed[@]} -gt 0 ]; then
    printf '\nmake test: %d failed: %s\n' "${#failed[@]}" "${failed[*]}" >&2
    exit 1
fi
printf '\nmake test: every suite passed (%s), and the host is as it was\n' "$*"
