#!/usr/bin/env bash
# port_manager.sh — the FOSS Server Stack's port manager, implemented on portpool.
#
# A drop-in for the stack's scripts/port_manager.sh, with the same calling convention:
#
#   source scripts/port_manager.sh             # then, in an installer:
#   PORT=$(register_port NAME PREFERRED_PORT [fixed|flexible])
#   PORT=$(get_port NAME DEFAULT_PORT)
#   list_ports
#
#   scripts/port_manager.sh register NAME PREFERRED_PORT [fixed|flexible]
#   scripts/port_manager.sh get NAME DEFAULT_PORT
#   scripts/port_manager.sh list
#
# Ports live in portpool's registry ($PORTPOOL_REGISTRY, else the host's), shared with every
# other portpool user, under portpool's rules: a port is printed only once it is stored; a
# conflict or an exhausted range prints nothing on stdout, portpool's message on stderr, and
# returns non-zero. The portpool binary is $PORTPOOL, else `portpool` on PATH. Where this
# differs from the original, and how to move its port_allocation.json over: README.md,
# "The FOSS stack's port_manager.sh".
#
# Sourcing defines functions only: no shell option, variable or file is changed.

# Runs portpool; its stdout is the data, its stderr the one-line message.
_port_manager_portpool() {
    "${PORTPOOL:-portpool}" "$@"
}

# register_port NAME PREFERRED_PORT [fixed|flexible]: prints the port NAME holds. A NAME that
# holds a lease gets its port back; otherwise flexible (the default) takes PREFERRED_PORT or the
# next port above it that is neither leased nor bound, fixed takes exactly PREFERRED_PORT.
register_port() {
    if [ $# -lt 2 ]; then
        echo "register_port: usage: register_port NAME PREFERRED_PORT [fixed|flexible]" >&2
        return 2
    fi
    _port_manager_portpool register -- "$1" "$2" "${3:-flexible}"
}

# get_port NAME DEFAULT_PORT: prints NAME's port, or DEFAULT_PORT when NAME holds none.
get_port() {
    if [ $# -lt 1 ]; then
        echo "get_port: usage: get_port NAME DEFAULT_PORT" >&2
        return 2
    fi
    if [ -n "${2:-}" ]; then
        _port_manager_portpool get -- "$1" "$2"
    else
        _port_manager_portpool get -- "$1"
    fi
}

# list_ports: two header lines, then one `%-30s %s` row (name, port) per lease.
list_ports() {
    local table name port rest
    table=$(_port_manager_portpool list) || return
    echo "Current Port Allocations:"
    echo "========================="
    # The first line is the table's header. Names never hold whitespace (portpool refuses
    # them), so the first two columns are the name and the port.
    while read -r name port rest; do
        printf "%-30s %s\n" "$name" "$port"
    done < <(printf '%s\n' "$table" | tail -n +2)
}

# is_port_free PORT: succeeds when PORT (TCP) is neither leased nor bound by any process.
is_port_free() {
    _port_manager_portpool check -- "$1" > /dev/null
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    case "${1:-}" in
        register)
            if [ $# -lt 3 ]; then
                echo "Usage: $0 register SERVICE_NAME PREFERRED_PORT [fixed|flexible]" >&2
                exit 1
            fi
            register_port "$2" "$3" "${4:-flexible}"
            ;;
        get)
            if [ $# -lt 3 ]; then
                echo "Usage: $0 get SERVICE_NAME DEFAULT_PORT" >&2
                exit 1
            fi
            get_port "$2" "$3"
            ;;
        list)
            list_ports
            ;;
        *)
            {
                echo "Usage: $0 {register|get|list} [arguments]"
                echo "  register SERVICE_NAME PREFERRED_PORT [fixed|flexible] - Register a service port"
                echo "  get SERVICE_NAME DEFAULT_PORT - Get a registered port or default if not registered"
                echo "  list - List all allocated ports"
            } >&2
            exit 1
            ;;
    esac
fi
