/*
 * A tiny supervisor: takes ports for two workers from a pool and starts them, reloads
 * worker-1 with no downtime by handing its name over to a new generation on a fresh port,
 * shows the registry, then stops everything and gives the ports back.
 *
 *   cc supervisor.c $(pkg-config --cflags --libs portpool) -o supervisor
 *   ./supervisor [REGISTRY-PATH]     (default: $PORTPOOL_REGISTRY, else the host registry)
 *
 * The leases are owned by this process: if it dies without releasing them, the next
 * allocate or gc reclaims them.
 */
#define _XOPEN_SOURCE 700

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <portpool.h>

struct worker {
    const char *name;
    uint16_t port;
    pid_t pid;
};

/* Starts a stand-in worker process that listens on w->port until it is sent SIGTERM. */
static int start(struct worker *w) {
    fflush(stdout); /* or the child inherits unwritten output */
    w->pid = fork();
    if (w->pid == 0) {
        struct sockaddr_in addr;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(w->port);
        if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 8) != 0)
            _exit(1);
        for (;;)
            pause();
    }
    if (w->pid < 0)
        return -1;
    printf("%s: port %u, pid %ld\n", w->name, (unsigned)w->port, (long)w->pid);
    return 0;
}

/* Stops a worker and waits for it; 0 when it had run until told to stop. */
static int stop(const struct worker *w) {
    int status = 0;
    kill(w->pid, SIGTERM);
    if (waitpid(w->pid, &status, 0) != w->pid)
        return -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : -1;
}

/* Reports the error that came back with a failed call, and frees it. */
static int fail(const char *what, portpool_error *err) {
    fprintf(stderr, "supervisor: %s: %s\n", what, portpool_error_message(err));
    portpool_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    portpool_registry *reg = NULL;
    portpool_error *err = NULL;
    portpool_lease_options owned = PORTPOOL_LEASE_OPTIONS_INIT;
    const char *names[] = {"worker-1", "worker-2"};
    uint16_t ports[2];
    struct worker workers[2], reloaded;
    char *leases = NULL;
    int status = 0, started = 0;
    bool released;

    if (portpool_abi_version() != PORTPOOL_ABI_VERSION) {
        fprintf(stderr, "supervisor: libportpool ABI %u, header %u\n",
                (unsigned)portpool_abi_version(), (unsigned)PORTPOOL_ABI_VERSION);
        return 1;
    }
    if (portpool_open(argc > 1 ? argv[1] : NULL, &reg, &err) != PORTPOOL_OK)
        return fail("open", err);

    /* Two ports from the "workers" pool in one step, owned by this supervisor. */
    owned.pid = (uint32_t)getpid();
    if (portpool_set_pool(reg, "workers", 7600, 7699, PORTPOOL_PROBE_DEFAULT, NULL, NULL, &err) != PORTPOOL_OK ||
        portpool_allocate_many(reg, names, 2, "workers", &owned, ports, &err) != PORTPOOL_OK) {
        status = fail("allocate", err);
        goto done;
    }
    for (; started < 2; started++) {
        workers[started] = (struct worker){names[started], ports[started], 0};
        if (start(&workers[started]) != 0) {
            status = 1;
            goto stop_all;
        }
    }

    /* Reload worker-1: the next generation gets a fresh port while the old one keeps
     * serving; the commit makes the new port the name's, and frees the old one. */
    reloaded = (struct worker){"worker-1 (next)", 0, 0};
    if (portpool_begin_handover(reg, "worker-1", 0, &reloaded.port, &err) != PORTPOOL_OK) {
        status = fail("begin handover", err);
        goto stop_all;
    }
    if (start(&reloaded) != 0) {
        portpool_abort_handover(reg, "worker-1", 0, &reloaded.port, NULL);
        status = 1;
        goto stop_all;
    }
    if (portpool_commit_handover(reg, "worker-1", 0, &reloaded.port, &err) != PORTPOOL_OK)
        status = fail("commit handover", err);
    if (stop(&workers[0]) != 0)
        status = 1;
    workers[0] = reloaded;
    workers[0].name = "worker-1";
    printf("worker-1: handed over to port %u\n", (unsigned)reloaded.port);

    if (portpool_list_json(reg, &leases, &err) == PORTPOOL_OK)
        printf("registry: %s\n", leases);
    else
        status = fail("list", err);
    portpool_string_free(leases);

stop_all:
    for (int i = 0; i < started; i++) {
        if (stop(&workers[i]) != 0) {
            fprintf(stderr, "supervisor: %s failed\n", workers[i].name);
            status = 1;
        }
        if (portpool_release(reg, names[i], &released, &err) != PORTPOOL_OK)
            status = fail(names[i], err);
    }
done:
    portpool_close(reg);
    return status;
}
