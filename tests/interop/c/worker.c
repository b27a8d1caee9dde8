/*
 * Interop worker in C: usage `worker REGISTRY WORKER_ID OPS LOG`.
 *
 * Runs the cycle every interop worker runs (see ../README.md) against pool "interop" of
 * REGISTRY through libportpool, and writes one JSON object per line to LOG. OPS 0 only lists
 * the registry once and logs what it saw. Any failed call exits 1 with the call and the
 * library's message on stderr.
 */
#define _POSIX_C_SOURCE 199309L

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portpool.h"

#define POOL "interop"
#define NAME_MAX_LEN 64

static const char *worker_id;
static FILE *log_file;
static struct portpool_registry *reg;

static void fail(const char *call, const char *name, portpool_status st)
{
    fprintf(stderr, "worker %s: %s(%s) failed with status %d: %s\n", worker_id, call,
            name ? name : "", (int)st, portpool_last_error_message());
    exit(1);
}

static void failf(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "worker %s: ", worker_id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* CLOCK_REALTIME in nanoseconds, the clock every worker logs. */
static int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        failf("clock_gettime failed");
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

static const char *protocol_name(portpool_protocol protocol)
{
    switch (protocol) {
    case PORTPOOL_PROTOCOL_UDP:
        return "udp";
    case PORTPOOL_PROTOCOL_TCP_UDP:
        return "tcp+udp";
    default:
        return "tcp";
    }
}

/* What this worker holds: the names it leased, their protocols, ports and handover ports
 * (0: none). */
struct held {
    char name[NAME_MAX_LEN];
    portpool_protocol protocol;
    uint16_t port;
    uint16_t next;
};

static void log_event(const char *ev, const struct held *h, uint16_t port)
{
    fprintf(log_file,
            "{\"ev\":\"%s\",\"name\":\"%s\",\"port\":%u,\"proto\":\"%s\",\"t\":%" PRId64 "}\n",
            ev, h->name, (unsigned)port, protocol_name(h->protocol), now_ns());
}

/* Logs that `h` holds `port`; called only after the call that leased it returned. */
static void log_acquired(const struct held *h, uint16_t port)
{
    log_event("acq", h, port);
}

/* Logs that `h` gives up `port`; called before the call that releases it. */
static void log_released(const struct held *h, uint16_t port)
{
    log_event("rel", h, port);
}

/*
 * Lists the registry and logs the list, as the library returned it, beside what this
 * worker holds; the driver checks that the list parses and contains all of it. `ev` is
 * "list" during the run and "seen" for the read-only pass.
 */
static void list_and_log(const char *ev, const struct held *own, size_t n_own)
{
    char *json = NULL;
    portpool_status st = portpool_list_json(reg, &json, NULL);
    if (st != PORTPOOL_OK)
        fail("portpool_list_json", NULL, st);
    fprintf(log_file, "{\"ev\":\"%s\",\"own\":[", ev);
    for (size_t i = 0; i < n_own; i++) {
        fprintf(log_file, "%s{\"name\":\"%s\",\"port\":%u,\"protocol\":\"%s\",\"next\":",
                i ? "," : "", own[i].name, (unsigned)own[i].port, protocol_name(own[i].protocol));
        if (own[i].next)
            fprintf(log_file, "%u}", (unsigned)own[i].next);
        else
            fputs("null}", log_file);
    }
    fprintf(log_file, "],\"leases\":%s}\n", json);
    portpool_string_free(json);
}

/* Leases a port of the pool to `h` (name and protocol set). */
static void allocate(struct held *h)
{
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    opts.protocol = h->protocol;
    portpool_status st = portpool_allocate_ex(reg, h->name, POOL, &opts, &h->port, NULL);
    if (st != PORTPOOL_OK)
        fail("portpool_allocate_ex", h->name, st);
    h->next = 0;
    log_acquired(h, h->port);
}

static void begin_handover(struct held *h)
{
    portpool_status st = portpool_begin_handover(reg, h->name, 0, &h->next, NULL);
    if (st != PORTPOOL_OK)
        fail("portpool_begin_handover", h->name, st);
    log_acquired(h, h->next);
}

/* Commits a handover of `h` when none is under way: the one error the run expects. */
static void commit_without_handover(const struct held *h)
{
    uint16_t port = 0;
    portpool_status st = portpool_commit_handover(reg, h->name, 0, &port, NULL);
    if (st != PORTPOOL_NOT_FOUND)
        failf("commit_handover(%s) without a handover gave status %d, not PORTPOOL_NOT_FOUND",
              h->name, (int)st);
}

/* Commits the handover of `h`, which then holds its next port. */
static void commit_handover(struct held *h)
{
    uint16_t port = 0;
    log_released(h, h->port);
    portpool_status st = portpool_commit_handover(reg, h->name, 0, &port, NULL);
    if (st != PORTPOOL_OK)
        fail("portpool_commit_handover", h->name, st);
    if (port != h->next)
        failf("commit_handover(%s) returned %u, begin gave %u", h->name, (unsigned)port,
              (unsigned)h->next);
    h->port = port;
    h->next = 0;
}

static void abort_handover(struct held *h)
{
    uint16_t port = 0;
    log_released(h, h->next);
    portpool_status st = portpool_abort_handover(reg, h->name, 0, &port, NULL);
    if (st != PORTPOOL_OK)
        fail("portpool_abort_handover", h->name, st);
    if (port != h->next)
        failf("abort_handover(%s) returned %u, begin gave %u", h->name, (unsigned)port,
              (unsigned)h->next);
    h->next = 0;
}

static void release(const struct held *h)
{
    bool released = false;
    log_released(h, h->port);
    portpool_status st = portpool_release(reg, h->name, &released, NULL);
    if (st != PORTPOOL_OK)
        fail("portpool_release", h->name, st);
    if (!released)
        failf("release(%s) found no lease", h->name);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s REGISTRY WORKER_ID OPS LOG\n", argv[0]);
        return 2;
    }
    worker_id = argv[2];
    long ops = strtol(argv[3], NULL, 10);
    log_file = fopen(argv[4], "w");
    if (!log_file) {
        perror(argv[4]);
        return 1;
    }
    portpool_status st = portpool_open(argv[1], &reg, NULL);
    if (st != PORTPOOL_OK)
        fail("portpool_open", argv[1], st);

    long count = 0;
    if (ops == 0) {
        list_and_log("seen", NULL, 0);
    } else {
        /* own[0], own[1]: the keepers; own[2]: the lease of the current cycle. */
        struct held own[3];
        memset(own, 0, sizeof own);
        for (int k = 0; k < 2; k++) {
            snprintf(own[k].name, NAME_MAX_LEN, "%s-keep-%c", worker_id, 'a' + k);
            own[k].protocol = k ? PORTPOOL_PROTOCOL_UDP : PORTPOOL_PROTOCOL_TCP;
            allocate(&own[k]);
            count++;
        }
        /* Each kind of cycle below with each protocol: TCP, UDP, then both. */
        static const portpool_protocol cycled[3] = {PORTPOOL_PROTOCOL_TCP, PORTPOOL_PROTOCOL_UDP,
                                                    PORTPOOL_PROTOCOL_TCP_UDP};
        for (long i = 0; count < ops; i++) {
            struct held *t = &own[2];
            snprintf(t->name, NAME_MAX_LEN, "%s-t%ld", worker_id, i);
            t->protocol = cycled[(i / 3) % 3];
            allocate(t);
            count++;
            long kind = i % 3; /* 0: hand over and commit, 1: hand over and abort, 2: neither */
            if (kind != 2) {
                begin_handover(t);
                count++;
            }
            list_and_log("list", own, 3);
            count++;
            if (kind == 0)
                commit_handover(t);
            else if (kind == 1)
                abort_handover(t);
            else
                commit_without_handover(t);
            count++;
            release(t);
            count++;
        }
        begin_handover(&own[0]);
        commit_handover(&own[0]);
        count += 2;
        for (int k = 0; k < 2; k++)
            fprintf(log_file, "{\"ev\":\"keep\",\"name\":\"%s\",\"port\":%u,\"protocol\":\"%s\"}\n",
                    own[k].name, (unsigned)own[k].port, protocol_name(own[k].protocol));
    }
    fprintf(log_file, "{\"ev\":\"done\",\"ops\":%ld}\n", count);
    portpool_close(reg);
    if (fclose(log_file) != 0) {
        perror(argv[4]);
        return 1;
    }
    return 0;
}
