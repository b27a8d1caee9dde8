#!/usr/bin/env bash
# Prints a fingerprint of what `make test` must leave as it found it on the host: the users and
# groups files (/etc/passwd, /etc/group, /etc/shadow, /etc/gshadow: checksums; a file this user
# may not read is fingerprinted by size and time), and ~/.cargo/bin (each entry's name, type,
# size and checksum). `make test` prints it before and after its suites and fails on any change.
set -euo pipefail

for f in /etc/passwd /etc/group /etc/shadow /etc/gshadow; do
    if [ -r "$f" ]; then
        printf '%s %s\n' "$f" "$(sha256sum < "$f" | cut -d' ' -f1)"
    elif [ -e "$f" ]; then
        printf '%s %s\n' "$f" "$(stat -c '%s %Y' "$f")"
    else
        printf '%s absent\n' "$f"
    fi
done
bin=${CARGO_HOME:-$HOME/.cargo}/bin
if [ -d "$bin" ]; then
    find "$bin" -mindepth 1 -maxdepth 1 -printf '%f %y %s\n' | sort
    find "$bin" -mindepth 1 -maxdepth 1 -type f -exec sha256sum {} + | sort
else
    echo "$bin absent"
fi
