/*
 * A tiny supervisor: takes ports for two workers from a pool, starts each worker on its port,
 * shows the registry, then stops the workers and gives the ports back.
 *
 *   cc supervisor.c $(pkg-config --cflags --libs portpool) -o supervisor
 *   ./supervisor [REGISTRY-PATH]     (default: $PORTPOOL_REGISTRY, else the host registry)
 *
 * The leases are owned by this process: if it dies without releasing them, the next
 * allocate or gc reclaims them. (Handing a worker's port over to a new generation comes with
 * portpool's handover operation, which this library does not offer yet.)
 */
#define _XOPEN_SOURCE 700

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <portpool.h>

#define WORKERS 2

/* A stand-in worker: listens on its port until the supervisor closes `stop`. */
static void run_worker(uint16_t port, int stop) {
    struct sockaddr_in addr;
    char byte;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 8) != 0)
        _exit(1);
    while (read(stop, &byte, 1) > 0) {
    }
    _exit(0);
}

static int fail(const char *what) {
    fprintf(stderr, "supervisor: %s: %s\n", what, portpool_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    portpool_registry *reg = NULL;
    portpool_lease_options owned = {0};
    const char *names[WORKERS] = {"worker-1", "worker-2"};
    pid_t pids[WORKERS];
    int started = 0, stop[2] = {-1, -1};
    char *leases = NULL;
    int status = 0;

    if (portpool_abi_version() != PORTPOOL_ABI_VERSION) {
        fprintf(stderr, "supervisor: libportpool ABI %u, header %u\n",
                (unsigned)portpool_abi_version(), (unsigned)PORTPOOL_ABI_VERSION);
        return 1;
    }
    if (portpool_open(argc > 1 ? argv[1] : NULL, &reg) != PORTPOOL_OK)
        return fail("open");
    if (portpool_set_pool(reg, "workers", 7600, 7699, PORTPOOL_PROBE_DEFAULT, NULL) != PORTPOOL_OK) {
        status = fail("set pool");
        goto done;
    }
    if (pipe(stop) != 0) {
        perror("supervisor: pipe");
        status = 1;
        goto done;
    }

    owned.pid = (uint32_t)getpid(); /* stale once this supervisor is gone */
    for (; started < WORKERS; started++) {
        const char *name = names[started];
        uint16_t port;
        if (portpool_allocate_ex(reg, name, "workers", &owned, &port) != PORTPOOL_OK) {
            status = fail(name);
            break;
        }
        fflush(stdout); /* or the child inherits unwritten output */
        pids[started] = fork();
        if (pids[started] == 0) {
            close(stop[1]);
            run_worker(port, stop[0]);
        }
        printf("%s: port %u, pid %ld\n", name, (unsigned)port, (long)pids[started]);
    }

    if (portpool_list_json(reg, &leases) == PORTPOOL_OK)
        printf("registry: %s\n", leases);
    else
        status = fail("list");
    portpool_string_free(leases);

    close(stop[1]); /* stop the workers, then give their ports back */
    for (int i = 0; i < started; i++) {
        bool released;
        int exit_status = 1;
        waitpid(pids[i], &exit_status, 0);
        if (exit_status != 0) {
            fprintf(stderr, "supervisor: %s exited with status %d\n", names[i], exit_status);
            status = 1;
        }
        if (portpool_release(reg, names[i], &released) != PORTPOOL_OK)
            status = fail(names[i]);
    }
    close(stop[0]);
done:
    portpool_close(reg);
    return status;
}
