/*
 * libportpool: the C ABI of portpool, one port registry per host shared by every process and
 * language. Include `portpool.h`; link with `-lportpool` (see `pkg-config --libs portpool`).
 *
 * # Error protocol
 *
 * - Every function that can fail returns a `portpool_status`: `PORTPOOL_OK` (0) on success,
 *   another code on failure. Results come back through out-parameters, which are written only
 *   on `PORTPOOL_OK`.
 * - Every such function takes a last parameter `portpool_error **out_error`, and the error
 *   comes back with the call: on failure `*out_error` is a new `portpool_error` holding the
 *   status and a one-line message naming the value or file at fault (read them with
 *   `portpool_error_status` and `portpool_error_message`, free it with
 *   `portpool_error_free`); on success `*out_error` is NULL. Pass NULL to not want it. The
 *   error is the caller's, whatever the thread does next, so a runtime that moves its tasks
 *   between threads (Go's) reads it safely.
 * - Every such call also sets the calling thread's message, for C callers that keep to one
 *   thread: the empty string on success, the error's message on failure. Read it with
 *   `portpool_last_error_message()`; the pointer stays valid until the same thread calls
 *   another status-returning portpool function. The message is per thread, so threads
 *   sharing a handle never see each other's messages.
 * - A NULL pointer where a value is required, and text that is not UTF-8, give
 *   `PORTPOOL_INVALID_ARGUMENT`, never a crash. So does a `portpool_registry *` that is not an
 *   open handle (closed already, or never returned by `portpool_open`), and a `portpool_lease *`
 *   that is not an open lease: the library keeps the set of open handles and leases and never
 *   reads through any other pointer. Closing a handle while
 *   another thread uses it is still the caller's error. A panic inside the library is caught at the
 *   boundary and gives `PORTPOOL_PANIC`; no unwinding ever crosses into C.
 * - Functions that cannot fail (`portpool_close`, `portpool_lease_free`,
 *   `portpool_lease_port`, `portpool_string_free`, `portpool_version`,
 *   `portpool_abi_version`, `portpool_last_error_message` and the `portpool_error_*`
 *   functions) take no `out_error` and leave the message alone.
 *
 * # Ownership
 *
 * - Strings passed in are borrowed for the duration of the call only.
 * - Strings returned through `char **` out-parameters are owned by the caller and freed with
 *   `portpool_string_free` (never `free`); errors returned through `out_error` likewise with
 *   `portpool_error_free`. Strings returned directly (`const char *`) are
 *   owned by the library and must not be freed.
 * - Every free function accepts NULL and does nothing then.
 *
 * # Structs that grow
 *
 * Each struct a call reads (`portpool_lease_options`, `portpool_find_options`,
 * `portpool_listen_options`, `portpool_choice`) leads with `size_t struct_size`, so fields can
 * be added at its end in a later ABI version: start from its initializer
 * (`portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;`), which sets the size and
 * zeroes the rest (the defaults). The library reads a struct of any size a header since ABI 4
 * gave it: fields an older header lacks take their defaults, and a newer header's struct is
 * read when the fields this library does not know are zero (else
 * `PORTPOOL_INVALID_ARGUMENT`). So are the padding bytes after a struct's last field, where a
 * later field may sit: a struct filled field by field must be zeroed first (the initializer
 * or `memset` does it). Handles and errors are opaque, and so never change size.
 *
 * # Threads
 *
 * A `portpool_registry` may be used from many threads at once. Calls that change the
 * registry serialize on the registry file's lock, which also orders them against other
 * processes, and wait for it at most the handle's lock timeout (then `PORTPOOL_BUSY`);
 * calls that only read take no lock and never wait.
 *
 * # Durability
 *
 * A call that changes the registry returns once the change is on the disk, unless it
 * concerns only leases owned by a process (a `pid` was given) or a pool's cursor: those
 * survive any crash of a process, but not a power loss, after which their owners are gone
 * anyway.
 *
 * # JSON
 *
 * Leases and pools come back as JSON, in the shapes `portpool list --json` and
 * `portpool pool list --json` print: a lease is
 * `{"name", "port", "protocol" ("tcp"|"udp"), "mode" ("flexible"|"fixed"|"pool"), "pool"
 * (string or null), "created" (Unix seconds), "owner" ({"pid", "start_time", and "pid_ns" when recorded} or null), "ttl"
 * (seconds or null), "expires" (Unix seconds or null), "stale" (in `portpool_list_json` and
 * `portpool_who_json` only, and only when the lease is stale: why), "origin" (only for leases
 * `portpool migrate` made: `{"pid", "start_time", "program"}` seen then), "next" (during a handover
 * `{"port", "created", "owner"}`, else null)}`; a pool is
 * `{"name", "start", "end", "cursor", "probe"}`.
 */

#ifndef PORTPOOL_H
#define PORTPOOL_H

/* Generated by cbindgen from ffi/src; do not edit. Regenerate: PORTPOOL_BLESS=1 cargo test -p portpool-ffi --test header */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The version of portpool this header belongs to; `portpool_version()` returns the library's. */
#define PORTPOOL_VERSION "0.1.0"

/** Initializers of the structs a call reads, each the struct's defaults: `struct_size` set to
 * the size this header gives it, every other field zero.
 * `portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;` In C++, write
 * `portpool_lease_options opts{}; opts.struct_size = sizeof opts;` instead. */
#define PORTPOOL_LEASE_OPTIONS_INIT { .struct_size = sizeof(portpool_lease_options) }
#define PORTPOOL_FIND_OPTIONS_INIT { .struct_size = sizeof(portpool_find_options) }
#define PORTPOOL_LISTEN_OPTIONS_INIT { .struct_size = sizeof(portpool_listen_options) }
#define PORTPOOL_CHOICE_INIT { .struct_size = sizeof(portpool_choice) }

/**
 * The version of this C ABI. It changes whenever a type, constant or function of
 * `portpool.h` changes, a struct's size included; compare it with `portpool_abi_version()`
 * to know which library was loaded at run time. A struct passed in leads with its size
 * (`struct_size`), so a library reads a struct of the size any header since version 4 gave
 * it: fields a caller's older header lacks take their defaults, and fields this library
 * does not know yet must be zero.
 */
#define PORTPOOL_ABI_VERSION 6

/**
 * What a libportpool call returned. `PORTPOOL_OK` is 0; every other value is a failure, whose
 * message comes back in the call's `out_error` and from `portpool_last_error_message()` on
 * the same thread.
 *
 * The codes map one to one onto the kinds of error every portpool binding reports; new codes
 * may be added at the end in a later ABI version, so a `switch` should have a `default`.
 */
typedef enum portpool_status {
    /**
     * Success: the out-parameters hold the results.
     */
    PORTPOOL_OK = 0,
    /**
     * A name, pool or other thing asked for does not exist.
     */
    PORTPOOL_NOT_FOUND = 1,
    /**
     * An argument was rejected before anything was read or written: a NULL pointer, text
     * that is not UTF-8, a port outside 1-65535, a bad name, an unknown mode or protocol, a
     * pool whose start is after its end.
     */
    PORTPOOL_INVALID_ARGUMENT = 2,
    /**
     * The port asked for is leased to another name or bound by a process outside the
     * registry, or the name already holds something else.
     */
    PORTPOOL_CONFLICT = 3,
    /**
     * No free port was left where one was asked for.
     */
    PORTPOOL_EXHAUSTED = 4,
    /**
     * The registry file cannot be used: corrupt, of a newer format version, not a portpool
     * registry, a symbolic link, or not accessible. The file is left untouched.
     */
    PORTPOOL_REGISTRY_ERROR = 5,
    /**
     * The operating system failed a read or write (disk full, I/O error, ...).
     */
    PORTPOOL_IO_ERROR = 6,
    /**
     * A bug in libportpool: the call was abandoned and nothing more is known. The registry
     * file is still whole (changes are all-or-nothing), and the handle may be used again.
     */
    PORTPOOL_PANIC = 7,
    /**
     * Another process held the registry's lock for the whole lock timeout (10 s, or
     * `$PORTPOOL_LOCK_TIMEOUT` seconds, or `portpool_set_lock_timeout`); nothing was changed.
     * The message names the holder's pid when the system shows it. Trying again later is
     * safe.
     */
    PORTPOOL_BUSY = 8,
} portpool_status;

/**
 * What `portpool_check` found on a port.
 */
typedef enum portpool_port_state {
    /**
     * Neither leased nor bound: register or allocate could hand it out now.
     */
    PORTPOOL_PORT_FREE = 0,
    /**
     * Leased to a live holder.
     */
    PORTPOOL_PORT_LEASED = 1,
    /**
     * Not leased, but bound by a process outside the registry.
     */
    PORTPOOL_PORT_BUSY = 2,
} portpool_port_state;

/**
 * A failed call's error, from a call's `out_error`: its status and its message, kept until
 * `portpool_error_free`, whatever the thread calls meanwhile.
 *
 * **Owner:** the caller, from the failed call until `portpool_error_free`.
 * **Threads:** may be read from any thread, by several at once, and freed from any thread;
 * it must not be used during or after `portpool_error_free`.
 */
typedef struct portpool_error portpool_error;

/**
 * A lease for one scope of the calling process, from `portpool_lease_open`: its port is the
 * caller's until `portpool_lease_close` releases it.
 *
 * **Owner:** the caller, from `portpool_lease_open` until `portpool_lease_close` (which
 * releases the lease, then frees the handle) or `portpool_lease_free` (which only frees it).
 * **Lifetime:** independent of the registry handle it came from; closing needs a registry
 * handle on the same file. The lease itself lives in the registry: freeing the handle, or
 * the process's exit, does not release it (the owner's exit makes it stale, so the next
 * allocation or `portpool_gc` reclaims it).
 * **Threads:** may be used from any thread, and read (`portpool_lease_port`) from several
 * at once; it must not be used during or after `portpool_lease_close` or
 * `portpool_lease_free`. After `fork`, the child's copy never releases the parent's lease.
 */
typedef struct portpool_lease portpool_lease;

/**
 * A handle on one registry file.
 *
 * **Owner:** the caller, from `portpool_open` until `portpool_close`.
 * **Threads:** one handle may be used from any number of threads at once, and may be closed
 * from a thread other than the one that opened it; it must not be used during or after
 * `portpool_close`. Any number of handles, in any number of processes and languages, may use
 * one registry file at once: each call locks the file for its own duration only.
 */
typedef struct portpool_registry portpool_registry;

/**
 * How `portpool_register` picks a port: one of the `PORTPOOL_MODE_*` constants. An integer
 * rather than an enum, so that an out-of-range value is reported, never undefined.
 */
typedef uint32_t portpool_mode;

/**
 * A transport protocol: one of the `PORTPOOL_PROTOCOL_*` constants. A lease holds its port
 * for TCP, for UDP, or for both: a UDP lease never blocks a TCP lease of the same port, while
 * a `PORTPOOL_PROTOCOL_TCP_UDP` lease blocks (and is blocked by) either.
 */
typedef uint32_t portpool_protocol;

/**
 * Options of a new lease, for `portpool_register_ex`, `portpool_register_ports`,
 * `portpool_allocate_ex`, `portpool_allocate_many`, `portpool_lease_open` and `portpool_listen`.
 *
 * `portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;` (its size, every other field
 * zero) is the default: a permanent TCP lease, not forced, with no owner, no excluded ports,
 * no range, probed on the wildcards. Passing NULL instead of a struct means the same.
 * **Owner:** the caller; the library only reads it during the call.
 */
typedef struct portpool_lease_options {
    /**
     * `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_LEASE_OPTIONS_INIT` (or
     * `sizeof(portpool_lease_options)`). A size smaller than any header ever gave, or over
     * 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
     * is read when the fields this library does not know are zero.
     */
    size_t struct_size;
    /**
     * TCP (the default), UDP, or `tcp+udp`: one port number held for both. `PORTPOOL_PROTOCOL_TCP`
     * (0), `PORTPOOL_PROTOCOL_UDP` or `PORTPOOL_PROTOCOL_TCP_UDP`.
     */
    portpool_protocol protocol;
    /**
     * Take the port even when a process outside the registry has it bound (a fixed-mode
     * `portpool_register_ex` only; a port leased to another name is never taken), and return the
     * port of a name whose live lease another user made, as every call of a handle opened with
     * force does.
     */
    bool force;
    /**
     * The process that owns the lease: once it exits, the lease is stale and is reclaimed. 0 means
     * none; a pid that is negative, larger than any `pid_t` or names no running process is
     * `PORTPOOL_INVALID_ARGUMENT`.
     */
    int64_t pid;
    /**
     * Seconds the lease lives unless renewed. 0 means none; negative or over 100 years is
     * `PORTPOOL_INVALID_ARGUMENT`.
     */
    int64_t ttl;
    /**
     * Ports never handed out, even when preferred or next in the pool. `n_exclude` of them (NULL
     * when `n_exclude` is 0).
     */
    const uint16_t *exclude;
    /**
     * How many ports `exclude` holds.
     */
    size_t n_exclude;
    /**
     * After the preferred ports, the ports of this range in order (inclusive), in either mode.
     * Only with preferred ports: a pool has its own range, so `portpool_allocate_ex` refuses one.
     * The ports `range_start`..=`range_end` (both 0: none).
     */
    uint16_t range_start;
    /**
     * The last port of the range (inclusive).
     */
    uint16_t range_end;
    /**
     * Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound on
     * another address may then be handed out, and is good only for a server bound to this one.
     * `portpool_listen` also binds there unless its listen options name an address. A
     * NUL-terminated IP address, e.g. `"127.0.0.1"`; NULL means none.
     */
    const char *host;
    /**
     * Probe candidates as this process will bind them, for a lease whose holder is the caller
     * itself (as get-port's is): a port it may not bind, such as a privileged port for an
     * unprivileged process, is unavailable. Off (the default), such a port is judged by the
     * kernel's socket tables, as a lease may be for a privileged service.
     */
    bool bindable;
} portpool_lease_options;

/**
 * Whether `portpool_allocate` bind-probes a pool's candidate ports: one of the
 * `PORTPOOL_PROBE_*` constants, given to `portpool_set_pool`.
 */
typedef uint32_t portpool_probe;

/**
 * What `portpool_find_free_ex` looks for. `PORTPOOL_FIND_OPTIONS_INIT` (its size, every
 * other field zero), or NULL instead of a struct, is a TCP port the kernel picks, probed on
 * the wildcard addresses.
 *
 * **Owner:** the caller; the library only reads it (and what it points to) during the call.
 */
typedef struct portpool_find_options {
    /**
     * `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_FIND_OPTIONS_INIT` (or
     * `sizeof(portpool_find_options)`). A size smaller than any header ever gave, or over
     * 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
     * is read when the fields this library does not know are zero.
     */
    size_t struct_size;
    /**
     * `PORTPOOL_PROTOCOL_TCP` (0), `PORTPOOL_PROTOCOL_UDP` or `PORTPOOL_PROTOCOL_TCP_UDP`.
     */
    portpool_protocol protocol;
    /**
     * Ports to try first, in order: `n_ports` of them (NULL when `n_ports` is 0).
     */
    const uint16_t *ports;
    /**
     * How many ports `ports` holds.
     */
    size_t n_ports;
    /**
     * Then the ports `range_start`..=`range_end`, in order (both 0: no range; then the
     * kernel picks).
     */
    uint16_t range_start;
    /**
     * The last port of the range (inclusive).
     */
    uint16_t range_end;
    /**
     * Ports never returned: `n_exclude` of them (NULL when `n_exclude` is 0).
     */
    const uint16_t *exclude;
    /**
     * How many ports `exclude` holds.
     */
    size_t n_exclude;
    /**
     * Probe this one address instead of the wildcards; NULL: the wildcards.
     */
    const char *host;
} portpool_find_options;

/**
 * How `portpool_lease_open` chooses a port: the next free port of a pool, or the first of a
 * list of ports that a mode allows. `PORTPOOL_CHOICE_INIT` (its size, every other field
 * zero), or NULL instead of a struct, means the next free port of the default pool.
 *
 * **Owner:** the caller; the library only reads it (and the strings and arrays it points to)
 * during the call.
 */
typedef struct portpool_choice {
    /**
     * `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_CHOICE_INIT` (or
     * `sizeof(portpool_choice)`). A size smaller than any header ever gave, or over
     * 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
     * is read when the fields this library does not know are zero.
     */
    size_t struct_size;
    /**
     * The pool to take the next free port of (NULL: the default pool). Only when `n_ports`
     * is 0: giving both a pool and ports is `PORTPOOL_INVALID_ARGUMENT`.
     */
    const char *pool;
    /**
     * The preferred ports, in order: `n_ports` of them (NULL when `n_ports` is 0).
     */
    const uint16_t *ports;
    /**
     * How many ports `ports` holds; 0: take the port from `pool`.
     */
    size_t n_ports;
    /**
     * How `ports` are taken: `PORTPOOL_MODE_FLEXIBLE` (0) or `PORTPOOL_MODE_FIXED`.
     */
    portpool_mode mode;
} portpool_choice;

/**
 * How `portpool_listen` binds. `PORTPOOL_LISTEN_OPTIONS_INIT` (its size, every other field
 * zero), or NULL instead of a struct, binds the wildcard address with the kernel's backlog
 * (`net.core.somaxconn`).
 *
 * **Owner:** the caller; the library only reads it during the call.
 */
typedef struct portpool_listen_options {
    /**
     * `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_LISTEN_OPTIONS_INIT` (or
     * `sizeof(portpool_listen_options)`). A size smaller than any header ever gave, or over
     * 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
     * is read when the fields this library does not know are zero.
     */
    size_t struct_size;
    /**
     * The address to bind, e.g. `"127.0.0.1"`; NULL: `options->host` if given, else the IPv6
     * wildcard in dual-stack mode where the host has IPv6, else 0.0.0.0.
     */
    const char *host;
    /**
     * TCP only: the queue of connections not yet accepted (0: the kernel's `somaxconn`); 0
     * to 2147483647, checked by the library.
     */
    int64_t backlog;
} portpool_listen_options;

/**
 * The preferred port, or the next free one above it.
 */
#define PORTPOOL_MODE_FLEXIBLE 0

/**
 * Exactly the requested port, or `PORTPOOL_CONFLICT`.
 */
#define PORTPOOL_MODE_FIXED 1

/**
 * The mode of leases made by `portpool_allocate`, as it appears in lease JSON
 * (`"mode": "pool"`). `portpool_register` rejects it with `PORTPOOL_INVALID_ARGUMENT`.
 */
#define PORTPOOL_MODE_POOL 2

/**
 * TCP (the default: the value of a zeroed field).
 */
#define PORTPOOL_PROTOCOL_TCP 0

/**
 * UDP.
 */
#define PORTPOOL_PROTOCOL_UDP 1

/**
 * One port number for TCP and UDP at once (`"tcp+udp"` in JSON): leased for both, and free
 * only when both a TCP and a UDP socket could bind it. Since ABI 5 (a library of ABI 4
 * refuses it with `PORTPOOL_INVALID_ARGUMENT`). `portpool_listen` refuses it: one socket is
 * one protocol.
 */
#define PORTPOOL_PROTOCOL_TCP_UDP 2

/**
 * A new pool probes; an existing pool keeps its setting.
 */
#define PORTPOOL_PROBE_DEFAULT 2

/**
 * Do not probe: suits a range reserved for portpool.
 */
#define PORTPOOL_PROBE_OFF 0

/**
 * Probe, skipping ports bound by processes outside the registry.
 */
#define PORTPOOL_PROBE_ON 1

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Opens a handle on the registry file at `path`.
 *
 * `path` NULL means the default path: `$PORTPOOL_REGISTRY`, else
 * `/var/lib/portpool/registry.json` for root, else
 * `$XDG_STATE_HOME/portpool/registry.json` (`~/.local/state/portpool/registry.json`).
 * The path is taken as bytes, as the file system does; it need not be UTF-8. Opening does
 * not touch the disk: the file (and its directory) is created on the first change, so a
 * missing or unreadable file is reported by the first call that needs it.
 *
 * - **Ownership:** on success `*out` is a new handle owned by the caller; release it with
 *   `portpool_close`. `path` is only read during the call.
 * - **Threads:** may be called from any thread; the handle may be shared between threads.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `out` is NULL, `path` is empty, or no default
 *   path can be worked out (no `$HOME`).
 *
 * ```c
 * portpool_registry *reg = NULL;
 * if (portpool_open("/tmp/ports.json", &reg, NULL) != PORTPOOL_OK) {
 *     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
 *     return 1;
 * }
 * // ... use reg ...
 * portpool_close(reg);
 * ```
 *
 * # Safety
 * `path` is NULL or a NUL-terminated string; `out` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_open(const char *path,
                                   struct portpool_registry **out,
                                   struct portpool_error **out_error);

/**
 * Opens a handle as `portpool_open` does, reading and writing only the names of `namespace`
 * (NULL: the default namespace). Two handles in different namespaces may both name a lease
 * `worker-1`; ports stay unique across every namespace, and `portpool_list_json` lists the
 * handle's namespace only.
 *
 * - **Ownership:** `path` and `namespace` are only read during the call; the handle in
 *   `*out` is the caller's, to close with `portpool_close`.
 * - **Threads:** as `portpool_open`.
 * - **Errors:** as `portpool_open`, and `PORTPOOL_INVALID_ARGUMENT` for a namespace that is
 *   not a valid name.
 *
 * ```c
 * portpool_registry *reg;
 * if (portpool_open_namespace(NULL, "project-a", &reg, NULL) != PORTPOOL_OK)
 *     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
 * ```
 *
 * # Safety
 * `path` and `namespace` are NULL or NUL-terminated strings; `out` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_open_namespace(const char *path,
                                             const char *namespace_,
                                             struct portpool_registry **out,
                                             struct portpool_error **out_error);

/**
 * Checks a port given as an integer of any width, as core checks every port: 1-65535 is
 * written to `*out_port`; anything else is `PORTPOOL_INVALID_ARGUMENT` with core's message.
 * For bindings whose language holds ports in a wider integer (Go's `int`).
 *
 * - **Threads:** safe to call from any thread.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (out of range, or NULL `out_port`).
 *
 * ```c
 * uint16_t port;
 * if (portpool_port_from_int(config_port, &port, NULL) != PORTPOOL_OK)
 *     return -1;  // 0, negative or above 65535
 * ```
 *
 * # Safety
 * `out_port` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_port_from_int(int64_t value,
                                            uint16_t *out_port,
                                            struct portpool_error **out_error);

/**
 * Checks a count of ports given as an integer of any width, as core checks every count:
 * 1-65535 is written to `*out_count`; anything else is `PORTPOOL_INVALID_ARGUMENT` with core's
 * message. For bindings that size an output array before they call (Go's `FindFreeN`).
 *
 * - **Threads:** safe to call from any thread.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (out of range, or NULL `out_count`).
 *
 * ```c
 * size_t count;
 * if (portpool_count_from_int(wanted, &count, NULL) != PORTPOOL_OK)
 *     return -1;  // 0, negative or above 65535
 * ```
 *
 * # Safety
 * `out_count` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_count_from_int(int64_t value,
                                             size_t *out_count,
                                             struct portpool_error **out_error);

/**
 * Closes a handle and frees it. NULL, a handle closed already and a pointer that never was a
 * handle do nothing.
 *
 * - **Ownership:** takes `reg` back from the caller. Passing it to a call afterwards gives
 *   `PORTPOOL_INVALID_ARGUMENT` (until `portpool_open` happens to return a new handle at the
 *   same address, which is then that handle).
 * - **Threads:** no other thread may be using `reg` during this call.
 * - **Errors:** none; the thread's message is left as it was.
 *
 * ```c
 * portpool_close(reg);
 * reg = NULL;
 * ```
 *
 * # Safety
 * `reg` is NULL or a handle from `portpool_open` that was not closed yet.
 */
void portpool_close(struct portpool_registry *reg);

/**
 * Sets how long calls on `reg` that change the registry wait for another process's lock
 * before failing with `PORTPOOL_BUSY`: `milliseconds`, 0 meaning not at all. The default is
 * `$PORTPOOL_LOCK_TIMEOUT` seconds when `portpool_open` saw it set, else 10 s. Calls that
 * only read never wait.
 *
 * - **Threads:** applies to every thread using `reg`, from their next call on.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `reg` is NULL, or `milliseconds` is
 *   negative or over a year (the same rule as `$PORTPOOL_LOCK_TIMEOUT`'s).
 *
 * ```c
 * portpool_set_lock_timeout(reg, 500, NULL);  // give up after half a second
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_set_lock_timeout(struct portpool_registry *reg,
                                               int64_t milliseconds,
                                               struct portpool_error **out_error);

/**
 * Sets whether calls on `reg` may change what another user made: with `force` true,
 * `portpool_release`, `portpool_register_ex` and `portpool_allocate_ex` (of a name another
 * user's lease holds), the handover calls and `portpool_set_owner` act on leases another
 * user made, `portpool_set_pool` changes pools another user created, and `portpool_reset`
 * empties a registry where another user holds a live lease; with false (the default),
 * each of those is `PORTPOOL_CONFLICT` naming that user, unless the caller is root. A rail
 * against accidents, not a wall: any member of the registry's group may set it.
 *
 * - **Threads:** applies to every thread using `reg`, from their next call on.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `reg` is NULL.
 *
 * ```c
 * portpool_set_force(reg, true, NULL);   // release another user's lease, on purpose
 * portpool_release(reg, "stuck-service", &released, NULL);
 * portpool_set_force(reg, false, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_set_force(struct portpool_registry *reg,
                                        bool force,
                                        struct portpool_error **out_error);

/**
 * The path of the registry file that `reg` uses, as given or as resolved from the defaults.
 *
 * - **Ownership:** `*out_path` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `reg` or `out_path` is NULL.
 *
 * ```c
 * char *path = NULL;
 * if (portpool_registry_path(reg, &path, NULL) == PORTPOOL_OK) {
 *     printf("registry: %s\n", path);
 *     portpool_string_free(path);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_path` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_registry_path(struct portpool_registry *reg,
                                            char **out_path,
                                            struct portpool_error **out_error);

/**
 * Frees a string that libportpool returned through a `char **` out-parameter. NULL does
 * nothing.
 *
 * - **Ownership:** takes `s` back; it must not be used afterwards. Never pass a string from
 *   anywhere else, nor one from `portpool_last_error_message` or `portpool_version`.
 * - **Threads:** may be called from any thread, not only the one that got the string.
 * - **Errors:** none; the thread's message is left as it was.
 *
 * ```c
 * portpool_string_free(json);
 * ```
 *
 * # Safety
 * `s` is NULL or a string from a libportpool out-parameter that was not freed yet.
 */
void portpool_string_free(char *s);

/**
 * The message of the calling thread's last failed call, or the empty string when its last
 * call succeeded (or it made none). Never NULL.
 *
 * - **Ownership:** owned by the library; do not free it. It stays valid until this thread
 *   calls another status-returning portpool function, or exits; copy it to keep it.
 * - **Threads:** each thread has its own message. A caller whose code may move between
 *   threads from one call to the next (a green-thread or goroutine runtime) reads the error
 *   that came back with the call (`out_error`) instead.
 *
 * ```c
 * if (portpool_get(reg, "web", &port, NULL) != PORTPOOL_OK)
 *     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
 * ```
 */
const char *portpool_last_error_message(void);

/**
 * The version of libportpool, e.g. `"0.1.0"`: the same for every portpool package built from
 * one source tree, and equal to `PORTPOOL_VERSION` of the header it was built with.
 *
 * - **Ownership:** a static string; do not free it.
 * - **Threads:** safe to call from any thread.
 *
 * ```c
 * printf("libportpool %s\n", portpool_version());
 * ```
 */
const char *portpool_version(void);

/**
 * The ABI version of the loaded library, to compare with `PORTPOOL_ABI_VERSION` from the
 * header at run time.
 *
 * - **Threads:** safe to call from any thread.
 *
 * ```c
 * if (portpool_abi_version() != PORTPOOL_ABI_VERSION) {
 *     fprintf(stderr, "libportpool ABI mismatch\n");
 *     exit(1);
 * }
 * ```
 */
uint32_t portpool_abi_version(void);

/**
 * Leases a port to `name` (a permanent TCP lease) and returns it in `*out_port`. The same as
 * `portpool_register_ex` with `options` NULL.
 *
 * - `PORTPOOL_MODE_FLEXIBLE`: `port` when it is neither leased nor bound, else the next such
 *   port above it.
 * - `PORTPOOL_MODE_FIXED`: exactly `port`, or `PORTPOOL_CONFLICT`.
 * - A `name` that already holds a lease gets its port back and nothing is written.
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle; two callers never get one port.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_port`; `name` not
 *   UTF-8 or not a valid name; `port` 0; unknown `mode`), `PORTPOOL_CONFLICT` (fixed port
 *   held by another name or process; `name` already holds another port),
 *   `PORTPOOL_EXHAUSTED` (no free port from `port` to 65535), `PORTPOOL_REGISTRY_ERROR`,
 *   `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * uint16_t port;
 * if (portpool_register(reg, "web", 8080, PORTPOOL_MODE_FLEXIBLE, &port, NULL) == PORTPOOL_OK)
 *     printf("web listens on %u\n", (unsigned)port);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_register(struct portpool_registry *reg,
                                       const char *name,
                                       uint16_t port,
                                       portpool_mode mode,
                                       uint16_t *out_port,
                                       struct portpool_error **out_error);

/**
 * `portpool_register` with lease options: protocol, force, owner pid and time to live.
 * `options` NULL means the defaults (the same as a zeroed struct).
 *
 * - **Ownership:** `name` and `options` are only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** those of `portpool_register`, and `PORTPOOL_INVALID_ARGUMENT` for an unknown
 *   protocol or a pid that names no running process.
 *
 * ```c
 * portpool_lease_options opts = {0};
 * opts.protocol = PORTPOOL_PROTOCOL_UDP;
 * opts.pid = getpid();             // reclaimed once this process exits
 * opts.ttl = 60;                   // or after 60 s without portpool_renew
 * uint16_t port;
 * portpool_status st = portpool_register_ex(reg, "dns", 5353, PORTPOOL_MODE_FIXED, &opts, &port, NULL);
 * ```
 *
 * # Safety
 * As `portpool_register`; `options` is NULL or points to a readable
 * `portpool_lease_options`.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_register_ex(struct portpool_registry *reg,
                                          const char *name,
                                          uint16_t port,
                                          portpool_mode mode,
                                          const struct portpool_lease_options *options,
                                          uint16_t *out_port,
                                          struct portpool_error **out_error);

/**
 * `portpool_register_ex` with a list of preferred ports: the first of `ports` (in order) that
 * `mode` allows, then the range of `options` in order, and in flexible mode without a range
 * the ports above the first one. Fixed mode without a range takes only the listed ports
 * (none free: `PORTPOOL_CONFLICT`). Ports in `options->exclude` are never taken.
 *
 * - **Ownership:** `name`, `ports` and `options` are only read during the call.
 * - **Threads:** safe to call concurrently on one handle; two callers never get one port.
 * - **Errors:** those of `portpool_register_ex`, and `PORTPOOL_INVALID_ARGUMENT` for
 *   `n_ports` 0, or `ports` NULL while `n_ports` is not 0.
 *
 * ```c
 * const uint16_t preferred[] = {3000, 3001};
 * portpool_lease_options opts = {0};
 * opts.range_start = 4000;         // then 4000-4100
 * opts.range_end = 4100;
 * uint16_t port;
 * portpool_register_ports(reg, "web", preferred, 2, PORTPOOL_MODE_FIXED, &opts, &port, NULL);
 * ```
 *
 * # Safety
 * As `portpool_register_ex`; `ports` is NULL or points to `n_ports` readable ports.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_register_ports(struct portpool_registry *reg,
                                             const char *name,
                                             const uint16_t *ports,
                                             size_t n_ports,
                                             portpool_mode mode,
                                             const struct portpool_lease_options *options,
                                             uint16_t *out_port,
                                             struct portpool_error **out_error);

/**
 * The port `name` holds, in `*out_port`. A stale lease (owner gone, time to live over)
 * still counts until something reclaims it.
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_NOT_FOUND` when `name` holds no lease; `PORTPOOL_INVALID_ARGUMENT`
 *   (NULL or invalid `reg`, `name`, `out_port`), `PORTPOOL_REGISTRY_ERROR`,
 *   `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * uint16_t port;
 * switch (portpool_get(reg, "web", &port, NULL)) {
 * case PORTPOOL_OK:        printf("%u\n", (unsigned)port); break;
 * case PORTPOOL_NOT_FOUND: printf("web has no port\n"); break;
 * default:                 fprintf(stderr, "%s\n", portpool_last_error_message());
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_get(struct portpool_registry *reg,
                                  const char *name,
                                  uint16_t *out_port,
                                  struct portpool_error **out_error);

/**
 * The whole lease `name` holds, as a JSON object (see the JSON section above).
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_get`.
 *
 * ```c
 * char *lease = NULL;
 * if (portpool_get_json(reg, "web", &lease, NULL) == PORTPOOL_OK) {
 *     puts(lease);  // {"name":"web","port":8080,"protocol":"tcp",...}
 *     portpool_string_free(lease);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_get_json(struct portpool_registry *reg,
                                       const char *name,
                                       char **out_json,
                                       struct portpool_error **out_error);

/**
 * Leases the next free port of `pool` to `name` (a permanent TCP lease) and returns it in
 * `*out_port`. The same as `portpool_allocate_ex` with `options` NULL.
 *
 * `pool` NULL means `"default"` (9000-18999 unless changed). The pool's round-robin cursor is
 * shared by every process on the host; ports leased to others (and, when the pool probes,
 * bound by other processes) are skipped. A `name` that already holds a lease gets its port
 * back.
 *
 * - **Ownership:** `name` and `pool` are only read during the call.
 * - **Threads:** safe to call concurrently on one handle; two callers never get one port.
 * - **Errors:** `PORTPOOL_NOT_FOUND` (no such pool), `PORTPOOL_EXHAUSTED` (no free port in
 *   the pool), `PORTPOOL_CONFLICT` (`name` holds a port of the other protocol),
 *   `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_port`; text not UTF-8; invalid
 *   name), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * uint16_t port;
 * if (portpool_allocate(reg, "worker-1", "workers", &port, NULL) == PORTPOOL_OK)
 *     start_worker(port);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` and `pool` are NULL or NUL-terminated strings;
 * `out_port` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_allocate(struct portpool_registry *reg,
                                       const char *name,
                                       const char *pool,
                                       uint16_t *out_port,
                                       struct portpool_error **out_error);

/**
 * `portpool_allocate` with lease options: protocol, owner pid and time to live (`force`
 * only lets it return the port of a name another user's lease holds). `options` NULL means
 * the defaults.
 *
 * - **Ownership:** `name`, `pool` and `options` are only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** those of `portpool_allocate`, and `PORTPOOL_INVALID_ARGUMENT` for an unknown
 *   protocol or a pid that names no running process.
 *
 * ```c
 * portpool_lease_options opts = {0};
 * opts.pid = worker_pid;            // freed for reuse once the worker exits
 * uint16_t port;
 * portpool_status st = portpool_allocate_ex(reg, "worker-1", NULL, &opts, &port, NULL);
 * ```
 *
 * # Safety
 * As `portpool_allocate`; `options` is NULL or points to a readable
 * `portpool_lease_options`.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_allocate_ex(struct portpool_registry *reg,
                                          const char *name,
                                          const char *pool,
                                          const struct portpool_lease_options *options,
                                          uint16_t *out_port,
                                          struct portpool_error **out_error);

/**
 * Releases `name`'s lease; `*out_released` tells whether there was one (an unknown name is
 * not an error).
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_released`; invalid
 *   name), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * bool released;
 * portpool_release(reg, "worker-1", &released, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_released`
 * is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_release(struct portpool_registry *reg,
                                      const char *name,
                                      bool *out_released,
                                      struct portpool_error **out_error);

/**
 * Every lease, sorted by name, as a JSON array of lease objects (see the JSON section
 * above): the same array `portpool list --json` prints.
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
 *   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * char *leases = NULL;
 * if (portpool_list_json(reg, &leases, NULL) == PORTPOOL_OK) {
 *     puts(leases);
 *     portpool_string_free(leases);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_list_json(struct portpool_registry *reg,
                                        char **out_json,
                                        struct portpool_error **out_error);

/**
 * Every pool, sorted by name, as a JSON array of pool objects (see the JSON section above).
 * The `"default"` pool is always there.
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
 *   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * char *pools = NULL;
 * if (portpool_pools_json(reg, &pools, NULL) == PORTPOOL_OK) {
 *     puts(pools);  // [{"name":"default","start":9000,"end":18999,"cursor":9000,"probe":true}]
 *     portpool_string_free(pools);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_pools_json(struct portpool_registry *reg,
                                         char **out_json,
                                         struct portpool_error **out_error);

/**
 * Creates pool `name` over `start`..=`end`, or changes its range. A cursor outside the new
 * range restarts at `start`; leases already made are kept. `probe` is one of the
 * `PORTPOOL_PROBE_*` constants.
 *
 * A pool that works but deserves a second look (its range overlaps the kernel's ephemeral
 * ports, say) is still set; `*out_warnings_json`, when not NULL, is a JSON array of
 * sentences saying what to look at, `[]` when there is nothing. Show them to the user.
 *
 * - **Ownership:** `name` is only read during the call. When `out_json` is not NULL,
 *   `*out_json` is the pool as a JSON object; both strings are owned by the caller: free
 *   them with `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `name`; invalid name; port 0;
 *   `start` after `end`; unknown `probe`), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * char *warnings = NULL;
 * if (portpool_set_pool(reg, "workers", 40000, 40099, PORTPOOL_PROBE_DEFAULT, NULL, &warnings, NULL)
 *     != PORTPOOL_OK)
 *     fprintf(stderr, "%s\n", portpool_last_error_message());
 * else if (strcmp(warnings, "[]") != 0)
 *     fprintf(stderr, "warning: %s\n", warnings);  // ["pool \"workers\" (40000-40099) overlaps ..."]
 * portpool_string_free(warnings);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` and
 * `out_warnings_json` are NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_set_pool(struct portpool_registry *reg,
                                       const char *name,
                                       uint16_t start,
                                       uint16_t end,
                                       portpool_probe probe,
                                       char **out_json,
                                       char **out_warnings_json,
                                       struct portpool_error **out_error);

/**
 * Whether `port` is free, leased, or bound by a process outside the registry, in
 * `*out_state`. Stale leases count as free, as register and allocate would reclaim them.
 * The answer is a snapshot.
 *
 * - **Ownership:** when `out_lease_json` is not NULL, `*out_lease_json` is the holder's
 *   lease as a JSON object when the state is `PORTPOOL_PORT_LEASED`, else NULL; a non-NULL
 *   string is owned by the caller: free it with `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_state`; port 0; unknown
 *   protocol), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * portpool_port_state state;
 * char *holder = NULL;
 * if (portpool_check(reg, 8080, PORTPOOL_PROTOCOL_TCP, &state, &holder, NULL) == PORTPOOL_OK
 *     && state == PORTPOOL_PORT_LEASED)
 *     printf("8080 is leased: %s\n", holder);
 * portpool_string_free(holder);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_state` and `out_lease_json` are NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_check(struct portpool_registry *reg,
                                    uint16_t port,
                                    portpool_protocol protocol,
                                    enum portpool_port_state *out_state,
                                    char **out_lease_json,
                                    struct portpool_error **out_error);

/**
 * Releases every stale lease (owner gone or time to live over). `*out_count`, when not NULL,
 * is how many; `*out_json`, when not NULL, is a JSON array of
 * `{"lease": <lease object>, "reason": "owner pid 4242 is gone"}` objects.
 *
 * - **Ownership:** a string in `*out_json` is owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`), `PORTPOOL_REGISTRY_ERROR`,
 *   `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * size_t reclaimed;
 * if (portpool_gc(reg, &reclaimed, NULL, NULL) == PORTPOOL_OK)
 *     printf("reclaimed %zu stale leases\n", reclaimed);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_count` and `out_json` are NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_gc(struct portpool_registry *reg,
                                 size_t *out_count,
                                 char **out_json,
                                 struct portpool_error **out_error);

/**
 * Restarts `name`'s time to live from now, with `ttl` seconds or, when `ttl` is 0, the time
 * to live the lease was given. `*out_json`, when not NULL, is the renewed lease as a JSON
 * object.
 *
 * - **Ownership:** `name` is only read during the call; a string in `*out_json` is owned by
 *   the caller: free it with `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`), `PORTPOOL_INVALID_ARGUMENT`
 *   (NULL `reg` or `name`; invalid name; `ttl` 0 for a lease without a time to live),
 *   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * // a heartbeat: keep "worker-1" for another 30 s
 * if (portpool_renew(reg, "worker-1", 30, NULL, NULL) != PORTPOOL_OK)
 *     fprintf(stderr, "%s\n", portpool_last_error_message());
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_renew(struct portpool_registry *reg,
                                    const char *name,
                                    int64_t ttl,
                                    char **out_json,
                                    struct portpool_error **out_error);

/**
 * Empties the registry: no leases, and only the default pool at 9000-18999.
 *
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`), `PORTPOOL_REGISTRY_ERROR`,
 *   `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * portpool_reset(reg, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_reset(struct portpool_registry *reg,
                                    struct portpool_error **out_error);

/**
 * Releases `name`'s lease and, when a handover is under way, its next generation's port too
 * (`portpool_release` refuses such a lease with `PORTPOOL_CONFLICT`). `*out_released` tells
 * whether there was a lease.
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_release`.
 *
 * ```c
 * bool released;
 * portpool_release_all(reg, "worker-1", &released, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_released`
 * is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_release_all(struct portpool_registry *reg,
                                          const char *name,
                                          bool *out_released,
                                          struct portpool_error **out_error);

/**
 * Every lease of every namespace, sorted by namespace (the default one first) and name, as
 * a JSON array of lease objects: what `portpool list --all-namespaces --json` prints.
 *
 * - **Ownership:** the string in `*out_json` is the caller's: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_list_json`.
 *
 * ```c
 * char *json;
 * if (portpool_list_all_json(reg, &json, NULL) == PORTPOOL_OK) { puts(json); portpool_string_free(json); }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_list_all_json(struct portpool_registry *reg,
                                            char **out_json,
                                            struct portpool_error **out_error);

/**
 * Begins a zero-downtime handover of `name`: leases a port for the next generation while the
 * current one stays valid, and returns it in `*out_port`. `portpool_get` keeps returning the
 * current port until `portpool_commit_handover`; both ports are leased meanwhile, and the
 * lease's JSON shows the new one under `"next"`. A pool lease's new port comes from its pool;
 * other leases take the first free port above the current one. `pid` (0: none) is the next
 * generation's process, which owns the lease after the commit. Begun while a handover is
 * under way, `PORTPOOL_CONFLICT` (see `portpool_begin_handover_ticket`).
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`), `PORTPOOL_EXHAUSTED` (no free
 *   port), `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_port`; invalid name; a
 *   `pid` that names no running process), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * uint16_t next;
 * if (portpool_begin_handover(reg, "web", 0, &next, NULL) == PORTPOOL_OK) {
 *     start_generation(next);          // the new process listens on `next`
 *     portpool_commit_handover(reg, "web", 0, &next, NULL);
 *     stop_old_generation();           // its port is free for others now
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_begin_handover(struct portpool_registry *reg,
                                             const char *name,
                                             int64_t pid,
                                             uint16_t *out_port,
                                             struct portpool_error **out_error);

/**
 * Completes `name`'s handover: releases the old port and makes the next one current. The
 * new port is in `*out_port`. The lease's owner becomes the next generation's process: the
 * pid given to `portpool_begin_handover`, else `pid` given here, else none (the old
 * generation's process never owns the new port).
 *
 * `pid` (0: not checked) is the next generation as this caller knows it: a handover begun
 * for another process is `PORTPOOL_CONFLICT`, so one supervisor cannot commit another's.
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`, a stale one, or no handover
 *   under way), `PORTPOOL_CONFLICT` (begun for another pid), `PORTPOOL_INVALID_ARGUMENT`
 *   (NULL `reg`, `name` or `out_port`; invalid name; a `pid` that names no running
 *   process), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * uint16_t now_current;
 * portpool_commit_handover(reg, "web", new_worker_pid, &now_current, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_commit_handover(struct portpool_registry *reg,
                                              const char *name,
                                              int64_t pid,
                                              uint16_t *out_port,
                                              struct portpool_error **out_error);

/**
 * Abandons `name`'s handover: releases the next generation's port, which is returned in
 * `*out_port`; the current lease is untouched. `pid` (0: not checked) is checked as by
 * `portpool_commit_handover`.
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_commit_handover`.
 *
 * ```c
 * uint16_t dropped;
 * if (new_generation_failed)
 *     portpool_abort_handover(reg, "web", 0, &dropped, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_abort_handover(struct portpool_registry *reg,
                                             const char *name,
                                             int64_t pid,
                                             uint16_t *out_port,
                                             struct portpool_error **out_error);

/**
 * Allocates a port of `pool` (NULL: `"default"`) to each of the `count` names in `names`, in
 * one locked write: all or none. Names that already hold a lease get theirs back.
 * `out_ports[i]` is the port of `names[i]`. `options` NULL means the defaults.
 *
 * - **Ownership:** `names`, the strings in it, `pool` and `options` are only read during the
 *   call; `out_ports` is the caller's array of at least `count` elements.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_allocate_ex` (nothing is leased then), and
 *   `PORTPOOL_INVALID_ARGUMENT` for a name given twice, or `names` or `out_ports` NULL while
 *   `count` is not 0.
 *
 * ```c
 * const char *names[] = {"worker-1", "worker-2", "worker-3"};
 * uint16_t ports[3];
 * if (portpool_allocate_many(reg, names, 3, "workers", NULL, ports, NULL) == PORTPOOL_OK)
 *     printf("%u %u %u\n", (unsigned)ports[0], (unsigned)ports[1], (unsigned)ports[2]);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `names` is NULL or points to `count` pointers, each NULL or
 * a NUL-terminated string; `pool` is NULL or a NUL-terminated string; `options` is NULL or
 * readable; `out_ports` is NULL or writable for `count` elements.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_allocate_many(struct portpool_registry *reg,
                                            const char *const *names,
                                            size_t count,
                                            const char *pool,
                                            const struct portpool_lease_options *options,
                                            uint16_t *out_ports,
                                            struct portpool_error **out_error);

/**
 * Makes process `pid` the owner of `name`'s lease (0: no owner, a permanent lease). Once the
 * owner exits, the lease is stale and is reclaimed. `*out_json`, when not NULL, is the lease
 * as a JSON object.
 *
 * - **Ownership:** `name` is only read during the call; a string in `*out_json` is owned by
 *   the caller: free it with `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`), `PORTPOOL_INVALID_ARGUMENT`
 *   (NULL `reg` or `name`; invalid name; a `pid` that names no running process),
 *   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * pid_t child = fork();
 * if (child > 0)  // the lease now lives as long as the child
 *     portpool_set_owner(reg, "worker-1", (int64_t)child, NULL, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_set_owner(struct portpool_registry *reg,
                                        const char *name,
                                        int64_t pid,
                                        char **out_json,
                                        struct portpool_error **out_error);

/**
 * Begins `name`'s handover as `portpool_begin_handover` does, with its ticket: the port is in
 * `*out_port` and the ticket in `*out_ticket` (when not NULL). A handover already under way
 * is `PORTPOOL_CONFLICT` naming its ticket and port, unless `ticket` (0: none) is that ticket
 * (a retry: the same handover comes back) or `supersede` (it is aborted and a new one begun,
 * in one change).
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_begin_handover`, and `PORTPOOL_CONFLICT` for a handover under way
 *   or a `ticket` that is not it.
 *
 * ```c
 * uint16_t next; uint64_t ticket;
 * if (portpool_begin_handover_ticket(reg, "web", 0, 0, false, &next, &ticket, NULL) == PORTPOOL_OK)
 *     portpool_commit_handover_ticket(reg, "web", 0, ticket, &next, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable; `out_ticket` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_begin_handover_ticket(struct portpool_registry *reg,
                                                    const char *name,
                                                    int64_t pid,
                                                    uint64_t ticket,
                                                    bool supersede,
                                                    uint16_t *out_port,
                                                    uint64_t *out_ticket,
                                                    struct portpool_error **out_error);

/**
 * Commits `name`'s handover as `portpool_commit_handover` does, only when `ticket` (0: any) is
 * the handover under way: an ended or other ticket is `PORTPOOL_CONFLICT` and changes nothing.
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_commit_handover`, and `PORTPOOL_CONFLICT` for another ticket.
 *
 * ```c
 * portpool_commit_handover_ticket(reg, "web", 0, ticket, &now_current, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_commit_handover_ticket(struct portpool_registry *reg,
                                                     const char *name,
                                                     int64_t pid,
                                                     uint64_t ticket,
                                                     uint16_t *out_port,
                                                     struct portpool_error **out_error);

/**
 * Aborts `name`'s handover as `portpool_abort_handover` does, checked against `ticket` (0:
 * any) as by `portpool_commit_handover_ticket`.
 *
 * - **Ownership:** `name` is only read during the call.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_commit_handover_ticket`.
 *
 * ```c
 * portpool_abort_handover_ticket(reg, "web", 0, ticket, &dropped, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_abort_handover_ticket(struct portpool_registry *reg,
                                                    const char *name,
                                                    int64_t pid,
                                                    uint64_t ticket,
                                                    uint16_t *out_port,
                                                    struct portpool_error **out_error);

/**
 * Begins a handover of each of the `count` names in `names` in one change: all begin, or none
 * does and the first refusal is the error. `out_ports[i]` and `out_tickets[i]` are the next
 * port and ticket of `names[i]`. `pid` (0: none) and `supersede` as for
 * `portpool_begin_handover_ticket`.
 *
 * - **Ownership:** `names` and its strings are only read during the call; `out_ports` and
 *   `out_tickets` are the caller's arrays of at least `count` elements.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_begin_handover_ticket` (nothing begins then), and
 *   `PORTPOOL_INVALID_ARGUMENT` for a name given twice or a NULL array while `count` is not 0.
 *
 * ```c
 * const char *names[] = {"worker-1", "worker-2"};
 * uint16_t ports[2]; uint64_t tickets[2];
 * portpool_begin_handovers(reg, names, 2, 0, false, ports, tickets, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `names` is NULL or points to `count` pointers, each NULL or
 * a NUL-terminated string; `out_ports` and `out_tickets` are NULL or writable for `count`
 * elements.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_begin_handovers(struct portpool_registry *reg,
                                              const char *const *names,
                                              size_t count,
                                              int64_t pid,
                                              bool supersede,
                                              uint16_t *out_ports,
                                              uint64_t *out_tickets,
                                              struct portpool_error **out_error);

/**
 * Commits the handovers of the `count` names in `names` in one change, each checked against
 * `tickets[i]` (0, or `tickets` NULL: any) and `pid` (0: not checked): all are committed, or
 * none is and the first refusal is the error. `out_ports[i]` is `names[i]`'s new port.
 *
 * - **Ownership:** `names`, its strings and `tickets` are only read during the call;
 *   `out_ports` is the caller's array of at least `count` elements.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_commit_handover_ticket` (nothing changes then), and
 *   `PORTPOOL_INVALID_ARGUMENT` for a name given twice or a NULL array while `count` is not 0.
 *
 * ```c
 * portpool_commit_handovers(reg, names, tickets, 2, 0, ports, NULL);
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `names` is NULL or points to `count` pointers, each NULL or
 * a NUL-terminated string; `tickets` is NULL or readable for `count` elements; `out_ports` is
 * NULL or writable for `count` elements.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_commit_handovers(struct portpool_registry *reg,
                                               const char *const *names,
                                               const uint64_t *tickets,
                                               size_t count,
                                               int64_t pid,
                                               uint16_t *out_ports,
                                               struct portpool_error **out_error);

/**
 * Aborts the handovers of the `count` names in `names` in one change, checked as by
 * `portpool_commit_handovers`; `out_ports[i]` is the released next port of `names[i]`.
 *
 * - **Ownership:** as `portpool_commit_handovers`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** as `portpool_commit_handovers`.
 *
 * ```c
 * portpool_abort_handovers(reg, names, tickets, 2, 0, ports, NULL);
 * ```
 *
 * # Safety
 * As `portpool_commit_handovers`.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_abort_handovers(struct portpool_registry *reg,
                                              const char *const *names,
                                              const uint64_t *tickets,
                                              size_t count,
                                              int64_t pid,
                                              uint16_t *out_ports,
                                              struct portpool_error **out_error);

/**
 * Reads a flat `{"name": port, ...}` file into fixed, permanent TCP leases, in one write.
 * Names already present with the same port are skipped; any problem refuses the whole file,
 * listing every problem, and writes nothing. `*out_json`, when not NULL, is
 * `{"imported": [lease objects], "skipped": [names]}`. The path is taken as bytes.
 *
 * - **Ownership:** `file` is only read during the call; a string in `*out_json` is owned by
 *   the caller: free it with `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_NOT_FOUND` (no such file), `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`
 *   or `file`; not a `{"name": port}` map; bad names or ports), `PORTPOOL_CONFLICT` (a port
 *   leased to another name, a name holding another port), `PORTPOOL_REGISTRY_ERROR`,
 *   `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * if (portpool_import(reg, "/etc/myapp/port_allocation.json", NULL, NULL) != PORTPOOL_OK)
 *     fprintf(stderr, "%s\n", portpool_last_error_message());
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `file` is NULL or a NUL-terminated string; `out_json` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_import(struct portpool_registry *reg,
                                     const char *file,
                                     char **out_json,
                                     struct portpool_error **out_error);

/**
 * Everything known about `port`, as a JSON object: `{"port", "leases": [lease objects, TCP
 * and UDP], "sockets": [{"protocol", "address", "processes": [{"pid", "program"}]}] or null,
 * "unavailable": null or why the sockets could not be read}`.
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle. Costs a walk over every process's
 *   descriptors.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`; port 0),
 *   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * char *who = NULL;
 * if (portpool_who_json(reg, 8080, &who, NULL) == PORTPOOL_OK) {
 *     puts(who);
 *     portpool_string_free(who);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_who_json(struct portpool_registry *reg,
                                       uint16_t port,
                                       char **out_json,
                                       struct portpool_error **out_error);

/**
 * Registers every port a server socket is bound to now as a fixed, permanent lease named
 * after its program, and returns the leases made as a JSON array. Ports already leased are
 * left alone. With `dry_run`, returns the plan and writes nothing.
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`), `PORTPOOL_IO_ERROR`
 *   (/proc cannot be read), `PORTPOOL_REGISTRY_ERROR`.
 *
 * ```c
 * char *plan = NULL;
 * if (portpool_migrate_json(reg, true, &plan, NULL) == PORTPOOL_OK) {
 *     puts(plan);
 *     portpool_string_free(plan);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_migrate_json(struct portpool_registry *reg,
                                           bool dry_run,
                                           char **out_json,
                                           struct portpool_error **out_error);

/**
 * Checks the registry against the host and returns the findings as a JSON object:
 * `{"findings": [{"kind", "subject", "message"}], "unavailable": null or why sockets could
 * not be inspected}`. `kind` is one of `"not_listening"`, `"foreign_listener"`,
 * `"stale_owner"`, `"expired"`, `"ephemeral_overlap"`. Reads only.
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle. Costs a walk over every process's
 *   descriptors.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
 *   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * char *report = NULL;
 * if (portpool_doctor_json(reg, &report, NULL) == PORTPOOL_OK) {
 *     puts(report);
 *     portpool_string_free(report);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_doctor_json(struct portpool_registry *reg,
                                          char **out_json,
                                          struct portpool_error **out_error);

/**
 * Brings a damaged registry back, as `portpool repair` does: keeps every line that reads
 * back, moves the damaged file (and FIFOs, directories or other users' files planted at the
 * registry's, the lock's or the spare's name) aside as `NAME.damaged-SECONDS`, never
 * deleting them, and rewrites the registry from what was kept. `*out_json` receives
 * `{"repaired", "kept", "lost", "moved_aside"}`: `lost` names, one sentence each, what
 * could not be kept. A registry that reads back is left as it is (`"repaired": false`).
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call concurrently on one handle; takes the registry's lock.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
 *   `PORTPOOL_REGISTRY_ERROR` (a newer version's file, or a caller who is neither root nor
 *   the directory's owner), `PORTPOOL_IO_ERROR`, `PORTPOOL_BUSY`.
 *
 * ```c
 * char *report = NULL;
 * if (portpool_repair_json(reg, &report, NULL) == PORTPOOL_OK) {
 *     puts(report);
 *     portpool_string_free(report);
 * }
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_repair_json(struct portpool_registry *reg,
                                          char **out_json,
                                          struct portpool_error **out_error);

/**
 * Whether `port` can be bound for `protocol` on this host right now, on both the IPv4 and
 * IPv6 wildcard addresses, in `*out_free`. Ignores the registry; the answer is a snapshot.
 *
 * - **Threads:** safe to call from any thread.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `out_free`; port 0; unknown protocol).
 *
 * ```c
 * bool free_now;
 * if (portpool_is_free(8080, PORTPOOL_PROTOCOL_TCP, &free_now, NULL) == PORTPOOL_OK && !free_now)
 *     printf("something is listening on 8080\n");
 * ```
 *
 * # Safety
 * `out_free` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_is_free(uint16_t port,
                                      portpool_protocol protocol,
                                      bool *out_free,
                                      struct portpool_error **out_error);

/**
 * Whether `port` can be bound for `protocol` on `host` right now, in `*out_free`: on that one
 * address (e.g. `"127.0.0.1"`, which must be an address of this machine), or, with `host`
 * NULL, on both wildcard addresses as `portpool_is_free` checks. A port some process has bound
 * on another address is free on `host`. Ignores the registry; the answer is a snapshot.
 *
 * - **Threads:** safe to call from any thread.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `out_free`; port 0; unknown protocol; a
 *   `host` that is not UTF-8, not an IP address or not an address of this machine).
 *
 * ```c
 * bool free_here;
 * if (portpool_is_free_at(8080, PORTPOOL_PROTOCOL_TCP, "127.0.0.1", &free_here, NULL) == PORTPOOL_OK
 *     && free_here)
 *     printf("nothing is bound to 127.0.0.1:8080 or a wildcard\n");
 * ```
 *
 * # Safety
 * `host` is NULL or a NUL-terminated string.
 * `out_free` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_is_free_at(uint16_t port,
                                         portpool_protocol protocol,
                                         const char *host,
                                         bool *out_free,
                                         struct portpool_error **out_error);

/**
 * A port that the kernel picked as free, outside any registry, in `*out_port`: for tests and
 * tools that need a port now and bind it at once. Takes no lease.
 *
 * - **Threads:** safe to call from any thread.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `out_port`; unknown protocol),
 *   `PORTPOOL_IO_ERROR` (the kernel gave none).
 *
 * ```c
 * uint16_t port;
 * if (portpool_find_free(PORTPOOL_PROTOCOL_TCP, &port, NULL) == PORTPOOL_OK)
 *     serve_on(port);
 * ```
 *
 * # Safety
 * `out_port` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_find_free(portpool_protocol protocol,
                                        uint16_t *out_port,
                                        struct portpool_error **out_error);

/**
 * `count` distinct ports that can be bound for `options->protocol` right now, outside any
 * registry, in `out_ports[0..count]`: the free ones of `options->ports` in order, then of
 * the range in order, or, without a range, ports the kernel picks; never one of
 * `options->exclude`. Takes no lease. `options` NULL: TCP ports the kernel picks.
 *
 * - **Ownership:** `options` is only read during the call; `out_ports` is the caller's
 *   array of at least `count` elements.
 * - **Threads:** safe to call from any thread.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (`count` 0; `out_ports` NULL; a bad protocol,
 *   range or host; a NULL array with a count), `PORTPOOL_EXHAUSTED` (fewer than `count`
 *   free ports where asked), `PORTPOOL_IO_ERROR`. Nothing is written to `out_ports` then.
 *
 * ```c
 * portpool_find_options opts = {0};
 * opts.range_start = 4000;
 * opts.range_end = 4100;
 * uint16_t ports[3];
 * if (portpool_find_free_ex(&opts, ports, 3, NULL) == PORTPOOL_OK)
 *     printf("%u %u %u\n", (unsigned)ports[0], (unsigned)ports[1], (unsigned)ports[2]);
 * ```
 *
 * # Safety
 * `options` is NULL or readable, with the arrays and string it points to; `out_ports` is NULL
 * or writable for `count` elements.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_find_free_ex(const struct portpool_find_options *options,
                                           uint16_t *out_ports,
                                           size_t count,
                                           struct portpool_error **out_error);

/**
 * The warnings libportpool has given since the last call, oldest first, as a JSON array of
 * strings in `*out_json` (`[]` when there are none). Each warning is given once per process,
 * whatever call ran into it: today, a writer that appended to a registry it could not compact
 * (the file grows until someone who can compact it writes). The command line prints these on
 * stderr, Python gives them as `PortpoolWarning`s and Node as process warnings; a C program
 * calls this after its calls that write and logs what it gets.
 *
 * - **Ownership:** `*out_json` is a new string owned by the caller: free it with
 *   `portpool_string_free`.
 * - **Threads:** safe to call from any thread; a warning goes to one caller only.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `out_json` is NULL.
 *
 * ```c
 * char *warnings = NULL;
 * if (portpool_take_warnings_json(&warnings, NULL) == PORTPOOL_OK) {
 *     if (strcmp(warnings, "[]") != 0)
 *         fprintf(stderr, "portpool: %s\n", warnings);
 *     portpool_string_free(warnings);
 * }
 * ```
 *
 * # Safety
 * `out_json` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_take_warnings_json(char **out_json,
                                                 struct portpool_error **out_error);

/**
 * Leases a port to `name` and returns a socket bound to it, in one step: under the
 * registry's lock the port is chosen (as `choice` says; NULL: the next free port of the
 * default pool), bound, and only then leased, so no other process can take it in between.
 * A TCP socket listens (`SO_REUSEADDR`, `listen->backlog`); a UDP one is bound. The fd is
 * in `*out_fd`, the port in `*out_port`.
 *
 * - The address: `listen->host`, else `options->host`, else the IPv6 wildcard in
 *   dual-stack mode where the host has IPv6, else 0.0.0.0.
 * - The lease is owned by `options->pid`, else by the calling process, and is reclaimed once
 *   that process has exited. A `name` that already holds a lease (that `choice` accepts)
 *   gets a socket bound to its port.
 * - **The lease is not released by closing the socket**: release it with
 *   `portpool_release`, or let the owner's exit end it.
 *
 * - **Ownership:** `name`, `choice`, `options` and `listen` are only read during the call.
 *   `*out_fd` is a new descriptor owned by the caller, close-on-exec (clear `FD_CLOEXEC` to
 *   hand it to a child, as `portpool run --listen` does for fd 3); close it with `close`.
 * - **Threads:** safe to call concurrently on one handle; two callers never get one port.
 * - **Errors:** those of `portpool_lease_open` (but a held name is not a conflict), and
 *   `PORTPOOL_INVALID_ARGUMENT` for NULL `out_fd` or `out_port`, a `host` that is not an IP
 *   address, two different hosts, or a backlog over `INT_MAX`; `PORTPOOL_IO_ERROR` when the
 *   bind fails for another reason than the port being in use. Nothing is leased then.
 *
 * ```c
 * int fd;
 * uint16_t port;
 * if (portpool_listen(reg, "web", NULL, NULL, NULL, &fd, &port, NULL) != PORTPOOL_OK) {
 *     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
 *     return 1;
 * }
 * serve(fd);        // accept() on it: nobody could take the port in between
 * close(fd);        // the lease stays: portpool_release(reg, "web", NULL, NULL) to give it back
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `choice`,
 * `options` and `listen` are NULL or readable (with what they point to); `out_fd` and
 * `out_port` are NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_listen(struct portpool_registry *reg,
                                     const char *name,
                                     const struct portpool_choice *choice,
                                     const struct portpool_lease_options *options,
                                     const struct portpool_listen_options *listen,
                                     int *out_fd,
                                     uint16_t *out_port,
                                     struct portpool_error **out_error);

/**
 * Leases a new port to `name` for one scope of the calling process (a request, a test, a
 * child process's lifetime) and returns the lease in `*out_lease`; read its port with
 * `portpool_lease_port`, end it with `portpool_lease_close`.
 *
 * - The port is chosen as `choice` says (NULL: the next free port of the default pool).
 * - It is always a new lease: a `name` that already holds a live lease is
 *   `PORTPOOL_CONFLICT` and nothing changes (a stale one is reclaimed).
 * - The lease is owned by `options->pid`, else by the calling process, so it is reclaimed
 *   if that process dies inside the scope. `options` NULL means the defaults.
 *
 * - **Ownership:** `name`, `choice` and `options` are only read during the call. On success
 *   `*out_lease` is a new lease handle owned by the caller: end it with
 *   `portpool_lease_close` (or forget it with `portpool_lease_free`).
 * - **Threads:** safe to call concurrently on one handle; two callers never get one port.
 * - **Errors:** `PORTPOOL_CONFLICT` (`name` holds a lease already; a fixed port held by
 *   another name or process), `PORTPOOL_NOT_FOUND` (no such pool), `PORTPOOL_EXHAUSTED`,
 *   `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_lease`; invalid name; a choice
 *   with both a pool and ports, or `ports` NULL with `n_ports` not 0; a bad mode, protocol,
 *   pid or time to live), `PORTPOOL_BUSY`, `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * portpool_lease *lease = NULL;
 * if (portpool_lease_open(reg, "test-server", NULL, NULL, &lease, NULL) != PORTPOOL_OK) {
 *     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
 *     return 1;
 * }
 * run_test_server(portpool_lease_port(lease));
 * portpool_lease_close(reg, lease, NULL, NULL);  // the port is free for others again
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `choice` and
 * `options` are NULL or readable (with the strings and arrays they point to); `out_lease` is
 * NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_lease_open(struct portpool_registry *reg,
                                         const char *name,
                                         const struct portpool_choice *choice,
                                         const struct portpool_lease_options *options,
                                         struct portpool_lease **out_lease,
                                         struct portpool_error **out_error);

/**
 * The port `lease` holds; 0 when `lease` is NULL or not an open lease.
 *
 * - **Threads:** safe to call from any thread, also concurrently on one lease.
 * - **Errors:** none; the thread's message is left as it was.
 *
 * ```c
 * printf("serving on %u\n", (unsigned)portpool_lease_port(lease));
 * ```
 *
 * # Safety
 * `lease` is NULL or a lease that no other thread closes or frees during the call.
 */
uint16_t portpool_lease_port(const struct portpool_lease *lease);

/**
 * Ends `lease`'s scope and frees it: releases the lease if this is the process that opened
 * it and the name still holds this port (a forked child, or a name released or handed over
 * meanwhile, releases nothing), then frees the handle. `*out_released`, when not NULL, says
 * whether this call released it. NULL `lease` does nothing and gives `PORTPOOL_OK`.
 *
 * The handle is freed whatever the outcome, as `fclose` closes its stream: after a failure
 * (`PORTPOOL_BUSY`, say) the lease stays in the registry until its owner exits, or until
 * `portpool_release` of its name.
 *
 * - **Ownership:** takes `lease` back from the caller; it must not be used afterwards.
 * - **Threads:** no other thread may be using `lease` during this call.
 * - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL or invalid `reg`; `lease` not an open
 *   lease, which is then left alone), `PORTPOOL_BUSY`, `PORTPOOL_REGISTRY_ERROR`,
 *   `PORTPOOL_IO_ERROR`.
 *
 * ```c
 * bool released;
 * if (portpool_lease_close(reg, lease, &released, NULL) != PORTPOOL_OK)
 *     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
 * lease = NULL;
 * ```
 *
 * # Safety
 * `reg` is NULL or a live handle; `lease` is NULL or a lease that no other thread uses
 * during the call; `out_released` is NULL or writable.
 * `out_error` is NULL or writable.
 */
enum portpool_status portpool_lease_close(struct portpool_registry *reg,
                                          struct portpool_lease *lease,
                                          bool *out_released,
                                          struct portpool_error **out_error);

/**
 * Frees `lease` without ending its scope: the lease stays in the registry, owned as it was,
 * until its owner exits or its name is released. NULL, and a lease closed or freed already,
 * do nothing.
 *
 * - **Ownership:** takes `lease` back from the caller; it must not be used afterwards.
 * - **Threads:** no other thread may be using `lease` during this call.
 * - **Errors:** none; the thread's message is left as it was.
 *
 * ```c
 * // the child process serves on the port and the lease ends with it
 * portpool_lease_free(lease);
 * ```
 *
 * # Safety
 * `lease` is NULL or a lease that no other thread uses during the call.
 */
void portpool_lease_free(struct portpool_lease *lease);

/**
 * The status of the call that failed with `err`; `PORTPOOL_OK` for NULL (a call that
 * succeeded leaves NULL in its `out_error`).
 *
 * - **Threads:** safe to call from any thread.
 * - **Errors:** none; a pointer that is not a live error gives `PORTPOOL_INVALID_ARGUMENT`.
 *
 * ```c
 * portpool_error *err = NULL;
 * if (portpool_get(reg, "web", &port, &err) != PORTPOOL_OK) {
 *     if (portpool_error_status(err) == PORTPOOL_NOT_FOUND)
 *         puts("no lease named web");
 *     portpool_error_free(err);
 * }
 * ```
 *
 * # Safety
 * `err` is NULL or an error from an `out_error` that was not freed yet.
 */
enum portpool_status portpool_error_status(const struct portpool_error *err);

/**
 * The one-line message of the call that failed with `err`, naming the value or file at
 * fault; the empty string for NULL. Never NULL.
 *
 * - **Ownership:** owned by `err`: valid until `portpool_error_free(err)`; do not free it.
 * - **Threads:** safe to call from any thread.
 *
 * ```c
 * portpool_error *err = NULL;
 * if (portpool_open(path, &reg, &err) != PORTPOOL_OK) {
 *     fprintf(stderr, "portpool: %s\n", portpool_error_message(err));
 *     portpool_error_free(err);
 * }
 * ```
 *
 * # Safety
 * `err` is NULL or an error from an `out_error` that was not freed yet.
 */
const char *portpool_error_message(const struct portpool_error *err);

/**
 * Frees an error from a call's `out_error`. NULL, an error freed already and a pointer that
 * never was one do nothing.
 *
 * - **Ownership:** takes `err` back; its message must not be used afterwards.
 * - **Threads:** may be called from any thread.
 *
 * ```c
 * portpool_error_free(err);
 * ```
 *
 * # Safety
 * `err` is NULL or an error from an `out_error`; no other thread is reading it.
 */
void portpool_error_free(struct portpool_error *err);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* PORTPOOL_H */
