/*
 * Tests of libportpool through the committed include/portpool.h: every function, every error
 * path a C caller can reach (NULL arguments, text that is not UTF-8, out-of-range values),
 * and many threads sharing one handle. Built with -std=c99 -Wall -Wextra -Werror and run
 * under valgrind by `make -C ffi test`.
 *
 * Usage: test_portpool [TEST-NAME]   (no name: every test)
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE /* flock(2) */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portpool.h"

static char scratch[64];           /* a fresh directory per run */
static const char *current_test = ""; /* the test running now */

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "FAIL %s (%s:%d): %s\n  last error: \"%s\"\n", current_test, __FILE__, \
                    __LINE__, #cond, portpool_last_error_message());                          \
            return 0;                                                                         \
        }                                                                                     \
    } while (0)

#define CHECK_STATUS(call, expected) CHECK((call) == (expected))
#define CHECK_OK(call) CHECK_STATUS(call, PORTPOOL_OK)
#define CHECK_MESSAGE_HAS(text) CHECK(strstr(portpool_last_error_message(), (text)) != NULL)

/* Not UTF-8: a lone continuation byte and an overlong encoding. */
static const char NOT_UTF8[] = "web\x80\xc0\xaf";

/* A registry file of its own for each test. */
static void registry_path(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s.json", scratch, name);
}

static portpool_registry *open_fresh(const char *name) {
    char path[256];
    portpool_registry *reg = NULL;
    registry_path(path, sizeof path, name);
    if (portpool_open(path, &reg, NULL) != PORTPOOL_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, portpool_last_error_message());
        return NULL;
    }
    return reg;
}

/* A socket of `type` (SOCK_STREAM: listening, SOCK_DGRAM: bound) on a kernel-chosen port of
 * the IPv4 address `ip` (host order); its port in *port. */
static int bound_on(int type, in_addr_t ip, uint16_t *port) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, type, 0);
    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(ip);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        (type == SOCK_STREAM && listen(fd, 1) != 0) ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

/* bound_on 0.0.0.0. */
static int bound_somewhere(int type, uint16_t *port) {
    return bound_on(type, INADDR_ANY, port);
}

/* Whether a socket of `type` can bind `port` now on the IPv4 wildcard and, where the host has
 * IPv6, on the IPv6 wildcard (IPv6 only), as core's probe binds them; both sockets are closed. */
static int bindable(int type, uint16_t port) {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    int one = 1, ok;
    int fd4 = socket(AF_INET, type, 0), fd6 = socket(AF_INET6, type, 0);
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_ANY);
    v4.sin_port = htons(port);
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_any;
    v6.sin6_port = htons(port);
    ok = fd4 >= 0 && bind(fd4, (struct sockaddr *)&v4, sizeof v4) == 0;
    ok = ok && (fd6 < 0 || (setsockopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0 &&
                            bind(fd6, (struct sockaddr *)&v6, sizeof v6) == 0));
    if (fd4 >= 0)
        close(fd4);
    if (fd6 >= 0)
        close(fd6);
    return ok;
}

/* The first of `n` consecutive ports that are each free now for TCP and UDP, or 0 when 200
 * tries found none: for tests whose outcome needs ports nothing on the host holds. Each try
 * starts at random in 25000-31999, above the fixed ports that tests give where the host does
 * not matter and below Linux's usual ephemeral range. */
static uint16_t free_block(unsigned n) {
    unsigned seed = (unsigned)getpid();
    FILE *urandom = fopen("/dev/urandom", "rb");
    if (urandom != NULL) {
        if (fread(&seed, sizeof seed, 1, urandom) != 1)
            seed = (unsigned)getpid();
        fclose(urandom);
    }
    srand(seed);
    for (int tries = 0; tries < 200; tries++) {
        uint16_t start = (uint16_t)(25000 + (unsigned)rand() % (7000 - n));
        unsigned i = 0;
        while (i < n && bindable(SOCK_STREAM, (uint16_t)(start + i)) &&
               bindable(SOCK_DGRAM, (uint16_t)(start + i)))
            i++;
        if (i == n)
            return start;
    }
    return 0;
}

/* A TCP socket listening on a kernel-chosen port of 0.0.0.0; its port in *port. */
static int listen_somewhere(uint16_t *port) {
    return bound_somewhere(SOCK_STREAM, port);
}

static int count_occurrences(const char *haystack, const char *needle) {
    int n = 0;
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---------------------------------------------------------------------------------------- */

static int version_and_abi_match_the_header(void) {
    CHECK(strcmp(portpool_version(), PORTPOOL_VERSION) == 0);
    CHECK(portpool_abi_version() == PORTPOOL_ABI_VERSION);
    return 1;
}

static int open_rejects_null_out_and_empty_path(void) {
    portpool_registry *reg = NULL;
    CHECK_STATUS(portpool_open("/tmp/x.json", NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("out");
    CHECK_STATUS(portpool_open("", &reg, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("empty");
    CHECK(reg == NULL);
    return 1;
}

static int open_null_path_uses_portpool_registry_from_the_environment(void) {
    char want[256];
    char *got = NULL;
    portpool_registry *reg = NULL;
    uint16_t port = 0;
    registry_path(want, sizeof want, "from-env");
    CHECK(setenv("PORTPOOL_REGISTRY", want, 1) == 0);
    CHECK_OK(portpool_open(NULL, &reg, NULL));
    CHECK(unsetenv("PORTPOOL_REGISTRY") == 0);
    CHECK_OK(portpool_registry_path(reg, &got, NULL));
    CHECK(strcmp(got, want) == 0);
    portpool_string_free(got);
    CHECK_OK(portpool_register(reg, "env-web", 20000, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK(access(want, F_OK) == 0);
    portpool_close(reg);
    return 1;
}

static int open_takes_a_path_that_is_not_utf8(void) {
    char path[256];
    portpool_registry *reg = NULL;
    char *got = NULL;
    uint16_t port = 0;
    snprintf(path, sizeof path, "%s/bytes-\xff\xfe.json", scratch);
    CHECK_OK(portpool_open(path, &reg, NULL));
    CHECK_OK(portpool_register(reg, "web", 20000, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK(access(path, F_OK) == 0);
    CHECK_OK(portpool_registry_path(reg, &got, NULL));
    CHECK(strcmp(got, path) == 0);
    portpool_string_free(got);
    portpool_close(reg);
    return 1;
}

static int frees_accept_null(void) {
    portpool_close(NULL);
    portpool_string_free(NULL);
    return 1;
}

static int registry_path_rejects_null_arguments(void) {
    portpool_registry *reg = open_fresh("path-null");
    char *got = NULL;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_registry_path(NULL, &got, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("registry");
    CHECK_STATUS(portpool_registry_path(reg, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK(got == NULL);
    portpool_close(reg);
    return 1;
}

static int success_empties_the_last_error_message(void) {
    portpool_registry *reg = open_fresh("message");
    uint16_t port = 0;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_get(reg, "nobody", &port, NULL), PORTPOOL_NOT_FOUND);
    CHECK_MESSAGE_HAS("nobody");
    /* Functions that cannot fail leave the message alone. */
    portpool_string_free(NULL);
    (void)portpool_version();
    CHECK_MESSAGE_HAS("nobody");
    CHECK_OK(portpool_register(reg, "web", 20000, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK(strcmp(portpool_last_error_message(), "") == 0);
    portpool_close(reg);
    return 1;
}

/* The error comes back with the call: it holds the status and message of that call, and
 * stays the caller's while the thread makes other calls; a success leaves NULL. */
static int errors_come_back_with_the_call_and_outlive_the_threads_message(void) {
    portpool_registry *reg = open_fresh("out-error");
    portpool_error *err = NULL, *second = NULL;
    uint16_t port = 0;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_get(reg, "nothing-here", &port, &err), PORTPOOL_NOT_FOUND);
    CHECK(err != NULL);
    CHECK(portpool_error_status(err) == PORTPOOL_NOT_FOUND);
    CHECK(strstr(portpool_error_message(err), "nothing-here") != NULL);
    CHECK(strcmp(portpool_error_message(err), portpool_last_error_message()) == 0);
    second = (portpool_error *)1; /* overwritten with NULL on success */
    CHECK_OK(portpool_allocate(reg, "web", NULL, &port, &second));
    CHECK(second == NULL);
    CHECK(strcmp(portpool_last_error_message(), "") == 0);
    CHECK(strstr(portpool_error_message(err), "nothing-here") != NULL);
    CHECK_STATUS(portpool_open(NULL, NULL, &second), PORTPOOL_INVALID_ARGUMENT);
    CHECK(portpool_error_status(second) == PORTPOOL_INVALID_ARGUMENT);
    CHECK(strstr(portpool_error_message(second), "out") != NULL);
    CHECK(portpool_error_status(NULL) == PORTPOOL_OK);
    CHECK(strcmp(portpool_error_message(NULL), "") == 0);
    portpool_error_free(err);
    portpool_error_free(second);
    portpool_error_free(NULL);
    /* A freed error is not read: its status says the pointer is not an error. */
    CHECK(portpool_error_status(err) == PORTPOOL_INVALID_ARGUMENT);
    portpool_error_free(err);
    portpool_close(reg);
    return 1;
}

static int flexible_register_skips_ports_leased_to_others(void) {
    portpool_registry *reg = open_fresh("flexible");
    uint16_t a = 0, b = 0, again = 0;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "a", 21000, PORTPOOL_MODE_FLEXIBLE, &a, NULL));
    CHECK_OK(portpool_register(reg, "b", a, PORTPOOL_MODE_FLEXIBLE, &b, NULL));
    CHECK(b > a);
    CHECK_OK(portpool_register(reg, "a", 30000, PORTPOOL_MODE_FLEXIBLE, &again, NULL));
    CHECK(again == a);
    portpool_close(reg);
    return 1;
}

static int fixed_register_of_a_leased_port_is_a_conflict_naming_the_holder(void) {
    portpool_registry *reg = open_fresh("fixed");
    uint16_t port = 0, untouched = 4242;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "holder", 21100, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_STATUS(portpool_register(reg, "thief", port, PORTPOOL_MODE_FIXED, &untouched, NULL),
                 PORTPOOL_CONFLICT);
    CHECK_MESSAGE_HAS("holder");
    CHECK(untouched == 4242); /* out-parameters are written only on success */
    /* A name that holds one port cannot be given another fixed one. */
    CHECK_STATUS(portpool_register(reg, "holder", port + 1, PORTPOOL_MODE_FIXED, &untouched, NULL),
                 PORTPOOL_CONFLICT);
    portpool_close(reg);
    return 1;
}

static int register_rejects_null_bad_text_bad_port_and_bad_mode(void) {
    portpool_registry *reg = open_fresh("register-args");
    uint16_t port = 0;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_register(NULL, "web", 80, PORTPOOL_MODE_FIXED, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_register(reg, NULL, 80, PORTPOOL_MODE_FIXED, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("name");
    CHECK_STATUS(portpool_register(reg, "web", 80, PORTPOOL_MODE_FIXED, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("out_port");
    CHECK_STATUS(portpool_register(reg, NOT_UTF8, 80, PORTPOOL_MODE_FIXED, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("UTF-8");
    CHECK_STATUS(portpool_register(reg, "a b", 80, PORTPOOL_MODE_FIXED, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("whitespace");
    CHECK_STATUS(portpool_register(reg, "", 80, PORTPOOL_MODE_FIXED, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_register(reg, "web", 0, PORTPOOL_MODE_FIXED, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("1-65535");
    CHECK_STATUS(portpool_register(reg, "web", 80, 7, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid mode 7");
    CHECK_STATUS(portpool_register(reg, "web", 80, PORTPOOL_MODE_POOL, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("pool");
    /* Nothing was written by any of those. */
    CHECK_STATUS(portpool_get(reg, "web", &port, NULL), PORTPOOL_NOT_FOUND);
    portpool_close(reg);
    return 1;
}

static int names_with_quotes_and_slashes_are_stored_exactly(void) {
    portpool_registry *reg = open_fresh("names");
    const char *evil = "evil\":1,\"keycloak/../x";
    uint16_t port = 0, got = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, evil, 21200, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_get(reg, evil, &got, NULL));
    CHECK(got == port);
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(strstr(json, "evil\\\":1,\\\"keycloak/../x") != NULL);
    CHECK(count_occurrences(json, "\"name\"") == 1);
    portpool_string_free(json);
    portpool_close(reg);
    return 1;
}

static int udp_and_tcp_leases_of_one_port_coexist(void) {
    portpool_registry *reg = open_fresh("udp");
    portpool_lease_options udp = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t free_port = free_block(1), tcp_port = 0, udp_port = 0;
    char *json = NULL;
    udp.protocol = PORTPOOL_PROTOCOL_UDP;
    CHECK(reg != NULL && free_port != 0);
    CHECK_OK(portpool_register(reg, "t", free_port, PORTPOOL_MODE_FLEXIBLE, &tcp_port, NULL));
    CHECK_OK(portpool_register_ex(reg, "u", tcp_port, PORTPOOL_MODE_FIXED, &udp, &udp_port, NULL));
    CHECK(udp_port == tcp_port);
    CHECK_OK(portpool_get_json(reg, "u", &json, NULL));
    CHECK(strstr(json, "\"protocol\":\"udp\"") != NULL);
    portpool_string_free(json);
    /* "u" holds a UDP port; asking it for a TCP one is a conflict. */
    CHECK_STATUS(portpool_register(reg, "u", tcp_port, PORTPOOL_MODE_FLEXIBLE, &udp_port, NULL),
                 PORTPOOL_CONFLICT);
    portpool_close(reg);
    return 1;
}

static int a_tcp_udp_lease_holds_its_port_for_both_and_reads_back(void) {
    portpool_registry *reg = open_fresh("tcp-udp");
    portpool_lease_options both = PORTPOOL_LEASE_OPTIONS_INIT;
    portpool_lease_options udp = PORTPOOL_LEASE_OPTIONS_INIT;
    portpool_port_state state;
    uint16_t busy = 0, port = 0, other = 0;
    char *json = NULL;
    bool free_now = true;
    int fd = bound_somewhere(SOCK_DGRAM, &busy);
    both.protocol = PORTPOOL_PROTOCOL_TCP_UDP;
    udp.protocol = PORTPOOL_PROTOCOL_UDP;
    CHECK(reg != NULL && fd >= 0);
    /* The probe refuses a port bound for UDP only. */
    CHECK_OK(portpool_is_free(busy, PORTPOOL_PROTOCOL_TCP_UDP, &free_now, NULL));
    CHECK(!free_now);
    CHECK_OK(portpool_register_ex(reg, "dns", busy, PORTPOOL_MODE_FLEXIBLE, &both, &port, NULL));
    close(fd);
    CHECK(port != busy);
    /* Leased for both: neither a TCP nor a UDP lease may take its number. */
    CHECK_STATUS(portpool_register(reg, "web", port, PORTPOOL_MODE_FIXED, &other, NULL),
                 PORTPOOL_CONFLICT);
    CHECK_STATUS(portpool_register_ex(reg, "syslog", port, PORTPOOL_MODE_FIXED, &udp, &other, NULL),
                 PORTPOOL_CONFLICT);
    CHECK_MESSAGE_HAS("dns");
    portpool_close(reg);
    /* Through the file: a new handle reads it back as tcp+udp. */
    reg = open_fresh("tcp-udp");
    CHECK(reg != NULL);
    CHECK_OK(portpool_get_json(reg, "dns", &json, NULL));
    CHECK(strstr(json, "\"protocol\":\"tcp+udp\"") != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_check(reg, port, PORTPOOL_PROTOCOL_UDP, &state, NULL, NULL));
    CHECK(state == PORTPOOL_PORT_LEASED);
    portpool_close(reg);
    return 1;
}

static int register_ex_null_options_are_the_defaults(void) {
    portpool_registry *reg = open_fresh("ex-null");
    uint16_t port = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register_ex(reg, "web", 21400, PORTPOOL_MODE_FLEXIBLE, NULL, &port, NULL));
    CHECK_OK(portpool_get_json(reg, "web", &json, NULL));
    CHECK(strstr(json, "\"protocol\":\"tcp\"") != NULL);
    CHECK(strstr(json, "\"owner\":null") != NULL);
    CHECK(strstr(json, "\"ttl\":null") != NULL);
    portpool_string_free(json);
    portpool_close(reg);
    return 1;
}

static int register_ex_rejects_bad_protocol_and_dead_pid(void) {
    portpool_registry *reg = open_fresh("ex-bad");
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t port = 0;
    CHECK(reg != NULL);
    opts.protocol = 9;
    CHECK_STATUS(portpool_register_ex(reg, "web", 21500, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid protocol 9");
    opts.protocol = PORTPOOL_PROTOCOL_TCP;
    opts.pid = 2147483646u; /* above any pid_max */
    CHECK_STATUS(portpool_register_ex(reg, "web", 21500, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("2147483646");
    CHECK_STATUS(portpool_allocate_ex(reg, "web", NULL, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    opts.pid = -1;
    CHECK_STATUS(portpool_allocate_ex(reg, "web", NULL, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid pid -1");
    opts.pid = (int64_t)1 << 40;
    CHECK_STATUS(portpool_allocate_ex(reg, "web", NULL, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    opts.pid = 0;
    opts.ttl = -30;
    CHECK_STATUS(portpool_allocate_ex(reg, "web", NULL, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid ttl -30");
    opts.ttl = INT64_MAX;
    CHECK_STATUS(portpool_allocate_ex(reg, "web", NULL, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("100 years");
    CHECK_STATUS(portpool_begin_handover(reg, "web", -5, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

/* A struct handed in leads with its size: a size below the first header's is refused, and a
 * newer header's larger struct is read while the fields this library does not know are zero. */
static int options_lead_with_their_size_and_unknown_fields_must_be_zero(void) {
    portpool_registry *reg = open_fresh("struct-size");
    portpool_lease_options opts = {0};
    struct {
        portpool_lease_options known;
        uint64_t newer_field;
    } newer = {PORTPOOL_LEASE_OPTIONS_INIT, 0};
    portpool_find_options find = PORTPOOL_FIND_OPTIONS_INIT;
    uint16_t port = 0;
    char *list = NULL;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_allocate_ex(reg, "web", NULL, &opts, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("options.struct_size 0");
    CHECK_MESSAGE_HAS("sizeof(portpool_lease_options)");
    find.struct_size = sizeof find - 1;
    CHECK_STATUS(portpool_find_free_ex(&find, &port, 1, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("struct_size");
    find.struct_size = (size_t)1 << 40; /* as from uninitialized memory: refused, never read */
    CHECK_STATUS(portpool_find_free_ex(&find, &port, 1, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("struct_size 1099511627776");
    newer.known.struct_size = sizeof newer;
    newer.newer_field = 1;
    CHECK_STATUS(portpool_allocate_ex(reg, "web", NULL, &newer.known, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("newer header");
    CHECK_OK(portpool_list_json(reg, &list, NULL));
    CHECK(strcmp(list, "[]") == 0); /* nothing was written */
    portpool_string_free(list);
    newer.newer_field = 0;
    newer.known.protocol = PORTPOOL_PROTOCOL_UDP;
    CHECK_OK(portpool_allocate_ex(reg, "web", NULL, &newer.known, &port, NULL));
    CHECK_OK(portpool_get_json(reg, "web", &list, NULL));
    CHECK(strstr(list, "\"protocol\":\"udp\"") != NULL);
    portpool_string_free(list);
    portpool_close(reg);
    return 1;
}

static int register_ex_records_owner_and_ttl(void) {
    portpool_registry *reg = open_fresh("ex-owner");
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t port = 0;
    char *json = NULL;
    char want[64];
    CHECK(reg != NULL);
    opts.pid = (uint32_t)getpid();
    opts.ttl = 60;
    CHECK_OK(portpool_register_ex(reg, "web", 21600, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL));
    CHECK_OK(portpool_get_json(reg, "web", &json, NULL));
    snprintf(want, sizeof want, "\"pid\":%ld", (long)getpid());
    CHECK(strstr(json, want) != NULL);
    CHECK(strstr(json, "\"ttl\":60") != NULL);
    portpool_string_free(json);
    portpool_close(reg);
    return 1;
}

static int fixed_register_of_a_bound_port_needs_force(void) {
    portpool_registry *reg = open_fresh("force");
    portpool_lease_options force = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t bound = 0, port = 0;
    int fd = listen_somewhere(&bound);
    CHECK(reg != NULL);
    CHECK(fd >= 0);
    CHECK_STATUS(portpool_register(reg, "web", bound, PORTPOOL_MODE_FIXED, &port, NULL),
                 PORTPOOL_CONFLICT);
    CHECK_MESSAGE_HAS("outside the registry");
    /* A force byte that is neither 0 nor 1 (a struct filled with memset) counts as true. */
    force = (portpool_lease_options)PORTPOOL_LEASE_OPTIONS_INIT;
    memset(&force.force, 2, 1);
    CHECK_OK(portpool_register_ex(reg, "web", bound, PORTPOOL_MODE_FIXED, &force, &port, NULL));
    CHECK(port == bound);
    close(fd);
    portpool_close(reg);
    return 1;
}

static int get_reports_not_found_and_rejects_bad_arguments(void) {
    portpool_registry *reg = open_fresh("get");
    uint16_t port = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_get(reg, "ghost", &port, NULL), PORTPOOL_NOT_FOUND);
    CHECK_MESSAGE_HAS("no lease named \"ghost\"");
    CHECK_STATUS(portpool_get(NULL, "ghost", &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get(reg, NULL, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get(reg, "ghost", NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get(reg, NOT_UTF8, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get_json(reg, "ghost", &json, NULL), PORTPOOL_NOT_FOUND);
    CHECK_STATUS(portpool_get_json(NULL, "ghost", &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get_json(reg, NULL, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get_json(reg, "ghost", NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get_json(reg, NOT_UTF8, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK(json == NULL);
    portpool_close(reg);
    return 1;
}

static int allocate_hands_out_each_pool_port_once_then_is_exhausted(void) {
    portpool_registry *reg = open_fresh("pool");
    uint16_t a = 0, b = 0, c = 0, d = 0;
    char *pool = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_set_pool(reg, "tiny", 22000, 22002, PORTPOOL_PROBE_OFF, &pool, NULL, NULL));
    CHECK(strstr(pool, "\"name\":\"tiny\"") != NULL);
    CHECK(strstr(pool, "\"probe\":false") != NULL);
    portpool_string_free(pool);
    CHECK_OK(portpool_allocate(reg, "w1", "tiny", &a, NULL));
    CHECK_OK(portpool_allocate(reg, "w2", "tiny", &b, NULL));
    CHECK_OK(portpool_allocate(reg, "w3", "tiny", &c, NULL));
    CHECK(a == 22000 && b == 22001 && c == 22002);
    CHECK_STATUS(portpool_allocate(reg, "w4", "tiny", &d, NULL), PORTPOOL_EXHAUSTED);
    CHECK_MESSAGE_HAS("tiny");
    /* A name that holds a lease gets it back. */
    CHECK_OK(portpool_allocate(reg, "w2", "tiny", &d, NULL));
    CHECK(d == b);
    portpool_close(reg);
    return 1;
}

static int allocate_null_pool_means_the_default_pool(void) {
    portpool_registry *reg = open_fresh("default-pool");
    portpool_lease_options udp = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t port = 0;
    char *json = NULL;
    udp.protocol = PORTPOOL_PROTOCOL_UDP;
    CHECK(reg != NULL);
    CHECK_OK(portpool_allocate(reg, "w", NULL, &port, NULL));
    CHECK(port >= 9000 && port <= 18999);
    CHECK_OK(portpool_allocate_ex(reg, "u", NULL, &udp, &port, NULL));
    CHECK(port >= 9000 && port <= 18999);
    CHECK_OK(portpool_get_json(reg, "u", &json, NULL));
    CHECK(strstr(json, "\"pool\":\"default\"") != NULL);
    CHECK(strstr(json, "\"mode\":\"pool\"") != NULL);
    CHECK(strstr(json, "\"protocol\":\"udp\"") != NULL);
    portpool_string_free(json);
    portpool_close(reg);
    return 1;
}

static int allocate_rejects_unknown_pool_and_bad_arguments(void) {
    portpool_registry *reg = open_fresh("allocate-args");
    portpool_lease_options bad = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t port = 0;
    bad.protocol = 3;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_allocate(reg, "w", "nosuch", &port, NULL), PORTPOOL_NOT_FOUND);
    CHECK_MESSAGE_HAS("nosuch");
    CHECK_STATUS(portpool_allocate(NULL, "w", NULL, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate(reg, NULL, NULL, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate(reg, "w", NULL, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate(reg, NOT_UTF8, NULL, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate(reg, "w", NOT_UTF8, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("pool");
    CHECK_STATUS(portpool_allocate(reg, "w", "bad pool", &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate_ex(reg, "w", NULL, &bad, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int release_says_whether_there_was_a_lease(void) {
    portpool_registry *reg = open_fresh("release");
    uint16_t port = 0;
    bool released = false;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "web", 22100, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_release(reg, "web", &released, NULL));
    CHECK(released);
    CHECK_OK(portpool_release(reg, "web", &released, NULL));
    CHECK(!released);
    CHECK_STATUS(portpool_get(reg, "web", &port, NULL), PORTPOOL_NOT_FOUND);
    CHECK_STATUS(portpool_release(NULL, "web", &released, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_release(reg, NULL, &released, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_release(reg, "web", NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_release(reg, NOT_UTF8, &released, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int list_json_holds_every_lease_sorted_by_name(void) {
    portpool_registry *reg = open_fresh("list");
    uint16_t port = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(strcmp(json, "[]") == 0);
    portpool_string_free(json);
    CHECK_OK(portpool_register(reg, "zeta", 22200, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_register(reg, "alpha", 22300, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(json[0] == '[');
    CHECK(strstr(json, "\"alpha\"") != NULL && strstr(json, "\"zeta\"") != NULL);
    CHECK(strstr(json, "\"alpha\"") < strstr(json, "\"zeta\""));
    portpool_string_free(json);
    CHECK_STATUS(portpool_list_json(NULL, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_list_json(reg, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int pools_json_always_holds_the_default_pool(void) {
    portpool_registry *reg = open_fresh("pools");
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_pools_json(reg, &json, NULL));
    CHECK(strstr(json, "{\"name\":\"default\",\"start\":9000,\"end\":18999") != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_set_pool(reg, "web", 7000, 7099, PORTPOOL_PROBE_DEFAULT, NULL, NULL, NULL));
    CHECK_OK(portpool_pools_json(reg, &json, NULL));
    CHECK(strstr(json, "\"name\":\"web\",\"start\":7000,\"end\":7099") != NULL);
    CHECK(count_occurrences(json, "\"name\"") == 2);
    portpool_string_free(json);
    CHECK_STATUS(portpool_pools_json(NULL, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_pools_json(reg, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int set_pool_rejects_reversed_range_bad_probe_and_bad_text(void) {
    portpool_registry *reg = open_fresh("set-pool");
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_set_pool(reg, "p", 7100, 7000, PORTPOOL_PROBE_ON, &json, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("start is after end");
    CHECK_STATUS(portpool_set_pool(reg, "p", 0, 7000, PORTPOOL_PROBE_ON, &json, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_set_pool(reg, "p", 7000, 7100, 9, &json, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid probe 9");
    CHECK_STATUS(portpool_set_pool(NULL, "p", 7000, 7100, PORTPOOL_PROBE_ON, &json, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_set_pool(reg, NULL, 7000, 7100, PORTPOOL_PROBE_ON, &json, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_set_pool(reg, NOT_UTF8, 7000, 7100, PORTPOOL_PROBE_ON, &json, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK(json == NULL);
    /* PORTPOOL_PROBE_DEFAULT keeps what an existing pool had. */
    CHECK_OK(portpool_set_pool(reg, "p", 7000, 7100, PORTPOOL_PROBE_OFF, NULL, NULL, NULL));
    CHECK_OK(portpool_set_pool(reg, "p", 7000, 7200, PORTPOOL_PROBE_DEFAULT, &json, NULL, NULL));
    CHECK(strstr(json, "\"end\":7200") != NULL && strstr(json, "\"probe\":false") != NULL);
    portpool_string_free(json);
    portpool_close(reg);
    return 1;
}

static int check_tells_free_leased_and_busy_ports_apart(void) {
    portpool_registry *reg = open_fresh("check");
    portpool_port_state state = PORTPOOL_PORT_BUSY;
    char *holder = (char *)"untouched";
    uint16_t free_port = 0, leased = 0, bound = 0;
    int fd;
    CHECK(reg != NULL);
    CHECK_OK(portpool_find_free(PORTPOOL_PROTOCOL_TCP, &free_port, NULL));
    CHECK_OK(portpool_check(reg, free_port, PORTPOOL_PROTOCOL_TCP, &state, &holder, NULL));
    CHECK(state == PORTPOOL_PORT_FREE);
    CHECK(holder == NULL);
    CHECK_OK(portpool_register(reg, "web", free_port, PORTPOOL_MODE_FIXED, &leased, NULL));
    CHECK_OK(portpool_check(reg, leased, PORTPOOL_PROTOCOL_TCP, &state, &holder, NULL));
    CHECK(state == PORTPOOL_PORT_LEASED);
    CHECK(holder != NULL && strstr(holder, "\"name\":\"web\"") != NULL);
    portpool_string_free(holder);
    /* The UDP side of the same port is not leased. */
    CHECK_OK(portpool_check(reg, leased, PORTPOOL_PROTOCOL_UDP, &state, NULL, NULL));
    CHECK(state != PORTPOOL_PORT_LEASED);
    fd = listen_somewhere(&bound);
    CHECK(fd >= 0);
    CHECK_OK(portpool_check(reg, bound, PORTPOOL_PROTOCOL_TCP, &state, NULL, NULL));
    CHECK(state == PORTPOOL_PORT_BUSY);
    close(fd);
    CHECK_STATUS(portpool_check(reg, 0, PORTPOOL_PROTOCOL_TCP, &state, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_check(reg, 80, 5, &state, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_check(NULL, 80, PORTPOOL_PROTOCOL_TCP, &state, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_check(reg, 80, PORTPOOL_PROTOCOL_TCP, NULL, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int gc_reclaims_leases_whose_owner_exited(void) {
    portpool_registry *reg = open_fresh("gc");
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t port = 0;
    size_t count = 99;
    char *json = NULL;
    char reason[64];
    int ready[2];
    char byte = 0;
    pid_t child;
    CHECK(reg != NULL);
    CHECK(pipe(ready) == 0);
    fflush(stdout); /* or the child inherits unwritten output */
    child = fork();
    CHECK(child >= 0);
    if (child == 0) { /* lives until the parent closes the pipe */
        close(ready[1]);
        while (read(ready[0], &byte, 1) > 0) {
        }
        _exit(0);
    }
    close(ready[0]);
    opts.pid = (uint32_t)child;
    CHECK_OK(portpool_register_ex(reg, "worker", 22400, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL));
    CHECK_OK(portpool_register(reg, "permanent", 22500, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_gc(reg, &count, NULL, NULL));
    CHECK(count == 0);
    close(ready[1]);
    CHECK(waitpid(child, NULL, 0) == child);
    CHECK_OK(portpool_gc(reg, &count, &json, NULL));
    CHECK(count == 1);
    snprintf(reason, sizeof reason, "owner pid %ld is gone", (long)child);
    CHECK(strstr(json, reason) != NULL);
    CHECK(strstr(json, "\"lease\":{\"name\":\"worker\"") != NULL);
    portpool_string_free(json);
    CHECK_STATUS(portpool_get(reg, "worker", &port, NULL), PORTPOOL_NOT_FOUND);
    CHECK_OK(portpool_get(reg, "permanent", &port, NULL));
    CHECK_OK(portpool_gc(reg, NULL, NULL, NULL));
    CHECK_STATUS(portpool_gc(NULL, &count, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int renew_restarts_the_time_to_live(void) {
    portpool_registry *reg = open_fresh("renew");
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t port = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    opts.ttl = 60;
    CHECK_OK(portpool_register_ex(reg, "beat", 22600, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL));
    CHECK_OK(portpool_renew(reg, "beat", 0, &json, NULL));
    CHECK(strstr(json, "\"ttl\":60") != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_renew(reg, "beat", 120, NULL, NULL));
    CHECK_OK(portpool_get_json(reg, "beat", &json, NULL));
    CHECK(strstr(json, "\"ttl\":120") != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_register(reg, "forever", 22700, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_STATUS(portpool_renew(reg, "forever", 0, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("no time to live");
    CHECK_STATUS(portpool_renew(reg, "ghost", 10, NULL, NULL), PORTPOOL_NOT_FOUND);
    CHECK_STATUS(portpool_renew(NULL, "beat", 10, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_renew(reg, NULL, 10, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_renew(reg, NOT_UTF8, 10, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int reset_empties_the_registry(void) {
    portpool_registry *reg = open_fresh("reset");
    uint16_t port = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "web", 22800, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_set_pool(reg, "extra", 7000, 7001, PORTPOOL_PROBE_ON, NULL, NULL, NULL));
    CHECK_OK(portpool_reset(reg, NULL));
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(strcmp(json, "[]") == 0);
    portpool_string_free(json);
    CHECK_OK(portpool_pools_json(reg, &json, NULL));
    CHECK(count_occurrences(json, "\"name\"") == 1);
    portpool_string_free(json);
    CHECK_STATUS(portpool_reset(NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int is_free_and_find_free_see_bound_sockets(void) {
    uint16_t port = 0, bound = 0;
    bool is_free = false;
    int fd;
    CHECK_OK(portpool_find_free(PORTPOOL_PROTOCOL_TCP, &port, NULL));
    CHECK(port != 0);
    CHECK_OK(portpool_find_free(PORTPOOL_PROTOCOL_UDP, &port, NULL));
    CHECK(port != 0);
    fd = listen_somewhere(&bound);
    CHECK(fd >= 0);
    CHECK_OK(portpool_is_free(bound, PORTPOOL_PROTOCOL_TCP, &is_free, NULL));
    CHECK(!is_free);
    close(fd);
    CHECK_OK(portpool_is_free(bound, PORTPOOL_PROTOCOL_TCP, &is_free, NULL));
    CHECK(is_free);
    CHECK_STATUS(portpool_is_free(0, PORTPOOL_PROTOCOL_TCP, &is_free, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_is_free(80, 3, &is_free, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_is_free(80, PORTPOOL_PROTOCOL_TCP, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_find_free(3, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_OK(portpool_find_free(PORTPOOL_PROTOCOL_TCP_UDP, &port, NULL));
    CHECK(port != 0);
    CHECK_STATUS(portpool_find_free(PORTPOOL_PROTOCOL_TCP, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    return 1;
}

static int is_free_at_probes_one_address_or_the_wildcards(void) {
    uint16_t bound = 0;
    bool is_free = true;
    int fd = bound_on(SOCK_STREAM, INADDR_LOOPBACK, &bound);
    CHECK(fd >= 0);
    CHECK_OK(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, "127.0.0.1", &is_free, NULL));
    CHECK(!is_free);
    CHECK_OK(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, NULL, &is_free, NULL));
    CHECK(!is_free);
    /* Bound on 127.0.0.1 only: another loopback address has the port free. */
    CHECK_OK(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, "127.0.0.2", &is_free, NULL));
    CHECK(is_free);
    close(fd);
    CHECK_OK(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, "127.0.0.1", &is_free, NULL));
    CHECK(is_free);
    CHECK_STATUS(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, "localhost", &is_free, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("host");
    CHECK_STATUS(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, NOT_UTF8, &is_free, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, "192.0.2.7", &is_free, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_is_free_at(0, PORTPOOL_PROTOCOL_TCP, NULL, &is_free, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_is_free_at(bound, PORTPOOL_PROTOCOL_TCP, NULL, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    return 1;
}

/* In a child become `nobody`: two allocations append to `path`, which it cannot compact; the
 * warning comes back once. Exits 0 when it did. */
static void append_as_another_user(const char *path) {
    portpool_registry *reg = NULL;
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t port = 0;
    char *first = NULL, *second = NULL;
    int ok;
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        _exit(2);
    opts.pid = 1;
    if (portpool_open(path, &reg, NULL) != PORTPOOL_OK ||
        portpool_allocate_ex(reg, "a", NULL, &opts, &port, NULL) != PORTPOOL_OK ||
        portpool_allocate_ex(reg, "b", NULL, &opts, &port, NULL) != PORTPOOL_OK ||
        portpool_take_warnings_json(&first, NULL) != PORTPOOL_OK ||
        portpool_take_warnings_json(&second, NULL) != PORTPOOL_OK)
        _exit(3);
    ok = count_occurrences(first, "cannot be compacted") == 1 && strcmp(second, "[]") == 0;
    if (!ok)
        fprintf(stderr, "warnings: %s, then %s\n", first, second);
    portpool_string_free(first);
    portpool_string_free(second);
    portpool_close(reg);
    _exit(ok ? 0 : 1);
}

static int a_registry_this_process_cannot_compact_is_a_warning_once(void) {
    char path[256], lock[300], *none = NULL;
    portpool_registry *reg = NULL;
    uint16_t port = 0;
    int status = -1, i;
    FILE *f;
    pid_t child;
    CHECK_STATUS(portpool_take_warnings_json(NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    if (geteuid() != 0) {
        printf("     (not root: cannot become another user, the warning is not checked)\n");
        return 1;
    }
    /* Root's registry in a sticky directory others may write, with a long tail and no spare. */
    CHECK(chmod(scratch, 01777) == 0);
    registry_path(path, sizeof path, "uncompactable");
    snprintf(lock, sizeof lock, "%s.lock", path);
    CHECK_OK(portpool_open(path, &reg, NULL));
    CHECK_OK(portpool_find_free(PORTPOOL_PROTOCOL_TCP, &port, NULL));
    CHECK_OK(portpool_register(reg, "web", port, PORTPOOL_MODE_FIXED, &port, NULL));
    portpool_close(reg);
    CHECK((f = fopen(path, "a")) != NULL);
    for (i = 0; i < 300; i++)
        fputs("{\"cursors\":{\"default\":9000}}\n", f);
    CHECK(fclose(f) == 0);
    CHECK(chmod(path, 0666) == 0 && chmod(lock, 0666) == 0);
    fflush(stdout); /* or the child inherits unwritten output */
    child = fork();
    CHECK(child >= 0);
    if (child == 0)
        append_as_another_user(path);
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(chmod(scratch, 0700) == 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Once per process: this one wrote nothing it could not compact. */
    CHECK_OK(portpool_take_warnings_json(&none, NULL));
    CHECK(strcmp(none, "[]") == 0);
    portpool_string_free(none);
    return 1;
}

static int corrupt_registry_is_a_registry_error_and_is_left_untouched(void) {
    char path[256];
    portpool_registry *reg = open_fresh("corrupt");
    uint16_t port = 0;
    char *json = NULL;
    char buf[32] = {0};
    FILE *f;
    CHECK(reg != NULL);
    registry_path(path, sizeof path, "corrupt");
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"a\":}", f);
    fclose(f);
    CHECK_STATUS(portpool_list_json(reg, &json, NULL), PORTPOOL_REGISTRY_ERROR);
    CHECK_MESSAGE_HAS(path);
    CHECK_STATUS(portpool_register(reg, "web", 22900, PORTPOOL_MODE_FLEXIBLE, &port, NULL),
                 PORTPOOL_REGISTRY_ERROR);
    f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    CHECK(strcmp(buf, "{\"a\":}") == 0);
    portpool_close(reg);
    return 1;
}

static int repair_names_what_it_lost_and_brings_a_damaged_registry_back(void) {
    char path[256];
    portpool_registry *reg = open_fresh("repair");
    uint16_t port = 0;
    char *json = NULL;
    FILE *f;
    CHECK(reg != NULL);
    registry_path(path, sizeof path, "repair");
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"version\":2}\n{\"lease\":{\"name\":\"web\",\"port\":22950,\"protocol\":\"tcp\","
          "\"mode\":\"fixed\",\"created\":1}}\n{\"leases\":[{\"name\":\"api\",\"port\":22950,"
          "\"protocol\":\"tcp\",\"mode\":\"fixed\",\"created\":1}]}\n",
          f);
    fclose(f);
    CHECK_STATUS(portpool_list_json(reg, &json, NULL), PORTPOOL_REGISTRY_ERROR);
    CHECK_MESSAGE_HAS("portpool repair");
    CHECK_OK(portpool_repair_json(reg, &json, NULL));
    CHECK(strstr(json, "\"repaired\":true,\"kept\":1") != NULL);
    CHECK(strstr(json, "lease \\\"api\\\" (port 22950)") != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_get(reg, "web", &port, NULL));
    CHECK(port == 22950);
    CHECK_STATUS(portpool_repair_json(NULL, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_repair_json(reg, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int registry_under_a_regular_file_is_an_io_error(void) {
    char file[256], path[300];
    portpool_registry *reg = NULL;
    uint16_t port = 0;
    FILE *f;
    registry_path(file, sizeof file, "not-a-dir");
    f = fopen(file, "w");
    CHECK(f != NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/registry.json", file);
    CHECK_OK(portpool_open(path, &reg, NULL));
    CHECK_STATUS(portpool_register(reg, "web", 23000, PORTPOOL_MODE_FLEXIBLE, &port, NULL),
                 PORTPOOL_IO_ERROR);
    CHECK_MESSAGE_HAS("not-a-dir");
    portpool_close(reg);
    return 1;
}

static int a_lock_held_past_the_lock_timeout_is_busy_and_reads_go_on(void) {
    char path[256], lock_path[300], holder[32];
    portpool_registry *reg = NULL;
    uint16_t port = 0, got = 0;
    bool released = false;
    int fd;
    registry_path(path, sizeof path, "busy");
    CHECK_OK(portpool_open(path, &reg, NULL));
    CHECK_OK(portpool_register(reg, "web", 23020, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);
    fd = open(lock_path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(flock(fd, LOCK_EX) == 0);
    CHECK_OK(portpool_set_lock_timeout(reg, 100, NULL));
    CHECK_STATUS(portpool_release(reg, "web", &released, NULL), PORTPOOL_BUSY);
    snprintf(holder, sizeof holder, "pid %d ", (int)getpid());
    CHECK_MESSAGE_HAS(holder);
    CHECK_OK(portpool_get(reg, "web", &got, NULL)); /* reads take no lock */
    CHECK(got == port);
    CHECK(flock(fd, LOCK_UN) == 0);
    close(fd);
    CHECK_OK(portpool_release(reg, "web", &released, NULL));
    CHECK(released);
    CHECK_STATUS(portpool_set_lock_timeout(NULL, 100, NULL), PORTPOOL_INVALID_ARGUMENT);
    /* Core's rule, as for $PORTPOOL_LOCK_TIMEOUT: 0 to a year. */
    CHECK_STATUS(portpool_set_lock_timeout(reg, -1, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid lock timeout");
    CHECK_STATUS(portpool_set_lock_timeout(reg, 366LL * 24 * 3600 * 1000, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_OK(portpool_set_lock_timeout(reg, 0, NULL));
    portpool_close(reg);
    return 1;
}

/* A child process that lives until *stop is closed; its pid. */
static int set_pool_returns_its_warnings_beside_the_pool(void) {
    portpool_registry *reg = open_fresh("set-pool-warnings");
    char *pool = NULL, *warnings = NULL, want[64];
    unsigned lo = 0, hi = 0;
    FILE *range = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    CHECK(reg != NULL);
    CHECK(range != NULL && fscanf(range, "%u %u", &lo, &hi) == 2 && lo > 1024 && lo < hi);
    fclose(range);
    /* Inside the kernel's ephemeral range: set, with a warning naming the pool's range. */
    CHECK_OK(portpool_set_pool(reg, "eph", (uint16_t)lo, (uint16_t)(lo + 10), PORTPOOL_PROBE_OFF,
                               &pool, &warnings, NULL));
    CHECK(strstr(pool, "\"name\":\"eph\"") != NULL);
    snprintf(want, sizeof want, "%u-%u", lo, lo + 10);
    CHECK(warnings[0] == '[' && strstr(warnings, "ephemeral") != NULL);
    CHECK(strstr(warnings, want) != NULL);
    portpool_string_free(pool);
    portpool_string_free(warnings);
    /* Below it (every Linux range starts above 1024): no warning, an empty array. */
    CHECK_OK(portpool_set_pool(reg, "low", 7000, 7010, PORTPOOL_PROBE_OFF, NULL, &warnings, NULL));
    CHECK(strcmp(warnings, "[]") == 0);
    portpool_string_free(warnings);
    /* A refused pool writes neither string. */
    warnings = NULL;
    CHECK_STATUS(portpool_set_pool(reg, "bad", 7100, 7000, PORTPOOL_PROBE_OFF, NULL, &warnings, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK(warnings == NULL);
    portpool_close(reg);
    return 1;
}

static int lease_open_makes_a_new_lease_that_close_releases(void) {
    portpool_registry *reg = open_fresh("lease-scope");
    portpool_lease *lease = NULL;
    uint16_t port = 0;
    bool released = false;
    char *json = NULL;
    char pid[32];
    CHECK(reg != NULL);
    CHECK_OK(portpool_lease_open(reg, "scoped", NULL, NULL, &lease, NULL));
    CHECK(lease != NULL);
    /* A port of the default pool (9000-18999), which probes: a bound one is skipped. */
    CHECK(portpool_lease_port(lease) >= 9000 && portpool_lease_port(lease) <= 18999);
    CHECK_OK(portpool_get(reg, "scoped", &port, NULL));
    CHECK(port == portpool_lease_port(lease));
    /* Owned by this process unless options say otherwise. */
    CHECK_OK(portpool_get_json(reg, "scoped", &json, NULL));
    snprintf(pid, sizeof pid, "\"owner\":{\"pid\":%ld,", (long)getpid());
    CHECK(strstr(json, pid) != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_lease_close(reg, lease, &released, NULL));
    CHECK(released);
    CHECK_STATUS(portpool_get(reg, "scoped", &port, NULL), PORTPOOL_NOT_FOUND);
    portpool_close(reg);
    return 1;
}

static int lease_open_of_a_name_that_holds_a_lease_is_a_conflict(void) {
    portpool_registry *reg = open_fresh("lease-conflict");
    portpool_lease *lease = NULL;
    uint16_t port = 0, held = 0;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "web", 21000, PORTPOOL_MODE_FLEXIBLE, &held, NULL));
    CHECK_STATUS(portpool_lease_open(reg, "web", NULL, NULL, &lease, NULL), PORTPOOL_CONFLICT);
    CHECK_MESSAGE_HAS("already holds port");
    CHECK(lease == NULL);
    CHECK_OK(portpool_get(reg, "web", &port, NULL));
    CHECK(port == held);
    portpool_close(reg);
    return 1;
}

static int lease_open_takes_a_pool_or_ports_in_a_mode(void) {
    portpool_registry *reg = open_fresh("lease-choice");
    portpool_lease *pooled = NULL, *fixed = NULL, *other = NULL;
    portpool_choice choice;
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    const uint16_t ports[] = {free_block(1)};
    CHECK(reg != NULL && ports[0] != 0);
    CHECK_OK(portpool_set_pool(reg, "mine", 21200, 21201, PORTPOOL_PROBE_OFF, NULL, NULL, NULL));
    choice = (portpool_choice)PORTPOOL_CHOICE_INIT;
    choice.pool = "mine";
    CHECK_OK(portpool_lease_open(reg, "pooled", &choice, NULL, &pooled, NULL));
    CHECK(portpool_lease_port(pooled) == 21200);
    choice = (portpool_choice)PORTPOOL_CHOICE_INIT;
    choice.ports = ports;
    choice.n_ports = 1;
    choice.mode = PORTPOOL_MODE_FIXED;
    opts.protocol = PORTPOOL_PROTOCOL_UDP;
    CHECK_OK(portpool_lease_open(reg, "fixed", &choice, &opts, &fixed, NULL));
    CHECK(portpool_lease_port(fixed) == ports[0]);
    /* Fixed: another name asking for that port (and protocol) is refused. */
    CHECK_STATUS(portpool_lease_open(reg, "other", &choice, &opts, &other, NULL), PORTPOOL_CONFLICT);
    CHECK(other == NULL);
    CHECK_OK(portpool_lease_close(reg, pooled, NULL, NULL));
    CHECK_OK(portpool_lease_close(reg, fixed, NULL, NULL));
    portpool_close(reg);
    return 1;
}

static int lease_open_rejects_null_bad_text_and_a_bad_choice(void) {
    portpool_registry *reg = open_fresh("lease-bad");
    portpool_lease *lease = NULL;
    portpool_choice choice;
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    const uint16_t ports[] = {21300};
    char *list = NULL;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_lease_open(NULL, "x", NULL, NULL, &lease, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_lease_open(reg, NULL, NULL, NULL, &lease, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("name");
    CHECK_STATUS(portpool_lease_open(reg, NOT_UTF8, NULL, NULL, &lease, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not UTF-8");
    CHECK_STATUS(portpool_lease_open(reg, "x", NULL, NULL, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("out_lease");
    choice = (portpool_choice)PORTPOOL_CHOICE_INIT;
    choice.pool = "default";
    choice.ports = ports;
    choice.n_ports = 1;
    CHECK_STATUS(portpool_lease_open(reg, "x", &choice, NULL, &lease, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not both");
    choice.pool = NULL;
    choice.ports = NULL;
    CHECK_STATUS(portpool_lease_open(reg, "x", &choice, NULL, &lease, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("choice.ports");
    choice.ports = ports;
    choice.mode = 7;
    CHECK_STATUS(portpool_lease_open(reg, "x", &choice, NULL, &lease, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid mode 7");
    choice.mode = PORTPOOL_MODE_FLEXIBLE;
    choice.pool = NOT_UTF8;
    choice.n_ports = 0;
    CHECK_STATUS(portpool_lease_open(reg, "x", &choice, NULL, &lease, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("choice.pool");
    choice.pool = "no-such-pool";
    CHECK_STATUS(portpool_lease_open(reg, "x", &choice, NULL, &lease, NULL), PORTPOOL_NOT_FOUND);
    opts.ttl = -1;
    CHECK_STATUS(portpool_lease_open(reg, "x", NULL, &opts, &lease, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK(lease == NULL);
    CHECK_OK(portpool_list_json(reg, &list, NULL));
    CHECK(strcmp(list, "[]") == 0); /* nothing was written */
    portpool_string_free(list);
    portpool_close(reg);
    return 1;
}

static int lease_close_and_free_accept_null_and_refuse_foreign_pointers(void) {
    portpool_registry *reg = open_fresh("lease-null");
    portpool_lease *lease = NULL;
    bool released = true;
    int not_a_lease = 0;
    uint16_t port = 0;
    CHECK(reg != NULL);
    CHECK(portpool_lease_port(NULL) == 0);
    CHECK(portpool_lease_port((const portpool_lease *)&not_a_lease) == 0);
    portpool_lease_free(NULL);
    portpool_lease_free((portpool_lease *)&not_a_lease); /* not ours: left alone */
    CHECK_OK(portpool_lease_close(reg, NULL, &released, NULL));
    CHECK(!released);
    CHECK_STATUS(portpool_lease_close(reg, (portpool_lease *)&not_a_lease, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not an open lease");
    /* Closed with a bad registry: the handle is freed anyway, the lease stays. */
    CHECK_OK(portpool_lease_open(reg, "kept", NULL, NULL, &lease, NULL));
    CHECK_STATUS(portpool_lease_close(NULL, lease, &released, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK(portpool_lease_port(lease) == 0); /* freed: no longer an open lease */
    CHECK_STATUS(portpool_lease_close(reg, lease, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_OK(portpool_get(reg, "kept", &port, NULL));
    /* Freed without closing: the lease stays in the registry. */
    CHECK_OK(portpool_lease_open(reg, "freed", NULL, NULL, &lease, NULL));
    portpool_lease_free(lease);
    CHECK_OK(portpool_get(reg, "freed", &port, NULL));
    portpool_close(reg);
    return 1;
}

static int a_forked_child_closing_its_copy_never_releases_the_parents_lease(void) {
    portpool_registry *reg = open_fresh("lease-fork");
    portpool_lease *lease = NULL;
    uint16_t port = 0;
    bool released = false;
    int status = 0;
    pid_t child;
    CHECK(reg != NULL);
    CHECK_OK(portpool_lease_open(reg, "parent", NULL, NULL, &lease, NULL));
    fflush(stdout);
    child = fork();
    if (child == 0) {
        bool child_released = true;
        int ok = portpool_lease_close(reg, lease, &child_released, NULL) == PORTPOOL_OK;
        _exit(ok && !child_released ? 0 : 1);
    }
    CHECK(child > 0);
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_OK(portpool_get(reg, "parent", &port, NULL));
    CHECK(port == portpool_lease_port(lease));
    /* Released already by name: closing releases nothing and is no error. */
    CHECK_OK(portpool_release(reg, "parent", &released, NULL));
    CHECK_OK(portpool_lease_close(reg, lease, &released, NULL));
    CHECK(!released);
    portpool_close(reg);
    return 1;
}

static int register_ports_takes_the_first_free_preferred_port_then_the_range(void) {
    portpool_registry *reg = open_fresh("register-ports");
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    const uint16_t block = free_block(4); /* two preferred ports, then the range's first two */
    const uint16_t preferred[] = {block, (uint16_t)(block + 1)};
    const uint16_t excluded[] = {(uint16_t)(block + 2)};
    uint16_t port = 0, held = 0;
    CHECK(reg != NULL && block != 0);
    CHECK_OK(portpool_register(reg, "first", block, PORTPOOL_MODE_FIXED, &held, NULL));
    CHECK_OK(portpool_register_ports(reg, "web", preferred, 2, PORTPOOL_MODE_FIXED, NULL, &port, NULL));
    CHECK(port == block + 1);
    /* Both preferred ports taken: the range, in order, skipping an excluded port. */
    opts.range_start = block + 2;
    opts.range_end = block + 12;
    opts.exclude = excluded;
    opts.n_exclude = 1;
    CHECK_OK(portpool_register_ports(reg, "api", preferred, 2, PORTPOOL_MODE_FIXED, &opts, &port, NULL));
    CHECK(port == block + 3);
    /* Fixed without a range: only the list. */
    CHECK_STATUS(portpool_register_ports(reg, "db", preferred, 2, PORTPOOL_MODE_FIXED, NULL, &port, NULL),
                 PORTPOOL_CONFLICT);
    CHECK_STATUS(portpool_register_ports(reg, "db", NULL, 2, PORTPOOL_MODE_FIXED, NULL, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("ports");
    CHECK_STATUS(portpool_register_ports(reg, "db", preferred, 0, PORTPOOL_MODE_FIXED, NULL, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    opts.exclude = NULL; /* with n_exclude 1 */
    CHECK_STATUS(portpool_register_ports(reg, "db", preferred, 2, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("options.exclude");
    opts.n_exclude = 0;
    opts.range_start = block + 12;
    opts.range_end = block + 2;
    CHECK_STATUS(portpool_register_ports(reg, "db", preferred, 2, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    opts.range_start = opts.range_end = 0;
    opts.host = "not-an-address";
    CHECK_STATUS(portpool_register_ports(reg, "db", preferred, 2, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not an IP address");
    opts.host = NOT_UTF8;
    CHECK_STATUS(portpool_register_ports(reg, "db", preferred, 2, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get(reg, "db", &port, NULL), PORTPOOL_NOT_FOUND);
    /* With a probe address: candidates are probed on 127.0.0.1 only. */
    opts.host = "127.0.0.1";
    CHECK_OK(portpool_register_ports(reg, "local", preferred, 1, PORTPOOL_MODE_FLEXIBLE, &opts, &port, NULL));
    CHECK(port > block + 1);
    portpool_close(reg);
    return 1;
}

static int find_free_ex_returns_count_distinct_ports_of_the_range(void) {
    portpool_find_options opts;
    const uint16_t block = free_block(4); /* the range: three free ports besides the excluded one */
    const uint16_t excluded[] = {(uint16_t)(block + 1)};
    uint16_t ports[3] = {0, 0, 0}, one = 0;
    CHECK(block != 0);
    opts = (portpool_find_options)PORTPOOL_FIND_OPTIONS_INIT;
    opts.range_start = block;
    opts.range_end = block + 3;
    opts.exclude = excluded;
    opts.n_exclude = 1;
    CHECK_OK(portpool_find_free_ex(&opts, ports, 3, NULL));
    CHECK(ports[0] >= block && ports[2] <= block + 3 && ports[1] != ports[0] && ports[2] != ports[1]);
    CHECK(ports[0] != excluded[0] && ports[1] != excluded[0] && ports[2] != excluded[0]);
    CHECK(ports[0] < ports[1] && ports[1] < ports[2]); /* the range, in order */
    CHECK_OK(portpool_find_free_ex(NULL, &one, 1, NULL)); /* the kernel picks */
    CHECK(one != 0);
    opts.range_start = block;
    opts.range_end = block + 1; /* one port left after the exclusion */
    CHECK_STATUS(portpool_find_free_ex(&opts, ports, 2, NULL), PORTPOOL_EXHAUSTED);
    CHECK_STATUS(portpool_find_free_ex(&opts, NULL, 1, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_find_free_ex(&opts, ports, 0, NULL), PORTPOOL_INVALID_ARGUMENT);
    opts.protocol = 5;
    CHECK_STATUS(portpool_find_free_ex(&opts, ports, 1, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid protocol 5");
    opts.protocol = PORTPOOL_PROTOCOL_UDP;
    opts.host = "::x";
    CHECK_STATUS(portpool_find_free_ex(&opts, ports, 1, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("options.host");
    return 1;
}

static int listen_hands_over_a_listening_socket_on_the_leased_port(void) {
    portpool_registry *reg = open_fresh("listen-tcp");
    portpool_listen_options how = PORTPOOL_LISTEN_OPTIONS_INIT;
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    uint16_t port = 0, held = 0;
    int fd = -1, client, conn;
    CHECK(reg != NULL);
    how.host = "127.0.0.1";
    CHECK_OK(portpool_listen(reg, "web", NULL, NULL, &how, &fd, &port, NULL));
    CHECK(fd >= 0 && port >= 9000 && port <= 18999);
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0 && ntohs(addr.sin_port) == port);
    CHECK_OK(portpool_get(reg, "web", &held, NULL));
    CHECK(held == port);
    /* A client connects through the leased port and the caller accepts on the fd. */
    client = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(client, (struct sockaddr *)&addr, sizeof addr) == 0);
    conn = accept(fd, NULL, NULL);
    CHECK(conn >= 0);
    CHECK(write(client, "hi", 2) == 2);
    {
        char buf[2];
        CHECK(read(conn, buf, 2) == 2 && memcmp(buf, "hi", 2) == 0);
    }
    close(conn);
    close(client);
    close(fd);
    /* Closing the socket does not release the lease. */
    CHECK_OK(portpool_get(reg, "web", &held, NULL));
    CHECK(held == port);
    portpool_close(reg);
    return 1;
}

static int listen_binds_udp_and_rejects_bad_arguments(void) {
    portpool_registry *reg = open_fresh("listen-udp");
    portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;
    portpool_listen_options how = PORTPOOL_LISTEN_OPTIONS_INIT;
    portpool_choice choice;
    const uint16_t ports[] = {21800};
    uint16_t port = 0;
    int fd = -1, type = 0;
    socklen_t len = sizeof type;
    char *list = NULL;
    CHECK(reg != NULL);
    choice = (portpool_choice)PORTPOOL_CHOICE_INIT;
    choice.ports = ports;
    choice.n_ports = 1;
    opts.protocol = PORTPOOL_PROTOCOL_UDP;
    CHECK_OK(portpool_listen(reg, "dns", &choice, &opts, NULL, &fd, &port, NULL));
    CHECK(port >= 21800);
    CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM);
    close(fd);
    CHECK_STATUS(portpool_listen(NULL, "x", NULL, NULL, NULL, &fd, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_listen(reg, NULL, NULL, NULL, NULL, &fd, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_listen(reg, "x", NULL, NULL, NULL, NULL, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("out_fd");
    CHECK_STATUS(portpool_listen(reg, "x", NULL, NULL, NULL, &fd, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("out_port");
    how.host = "localhost";
    CHECK_STATUS(portpool_listen(reg, "x", NULL, NULL, &how, &fd, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("listen.host");
    how.host = "127.0.0.1";
    opts.protocol = PORTPOOL_PROTOCOL_TCP;
    opts.host = "::1";
    CHECK_STATUS(portpool_listen(reg, "x", NULL, &opts, &how, &fd, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("two addresses");
    how.host = NULL;
    opts.host = NULL;
    how.backlog = 0x80000000LL;
    CHECK_STATUS(portpool_listen(reg, "x", NULL, &opts, &how, &fd, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("backlog");
    how.backlog = -1;
    CHECK_STATUS(portpool_listen(reg, "x", NULL, &opts, &how, &fd, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid backlog -1");
    CHECK_OK(portpool_list_json(reg, &list, NULL));
    CHECK(count_occurrences(list, "\"name\"") == 1); /* only dns */
    portpool_string_free(list);
    portpool_close(reg);
    return 1;
}

static pid_t spawn_sleeper(int *stop) {
    int fds[2];
    char byte;
    pid_t child;
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout); /* or the child inherits unwritten output */
    child = fork();
    if (child == 0) {
        close(fds[1]);
        while (read(fds[0], &byte, 1) > 0) {
        }
        _exit(0);
    }
    close(fds[0]);
    *stop = fds[1];
    return child;
}

static int handover_leases_a_second_port_until_commit(void) {
    portpool_registry *reg = open_fresh("handover");
    uint16_t current = 0, next = 0, again = 0, got = 0, committed = 0;
    portpool_port_state state;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "web", 23100, PORTPOOL_MODE_FLEXIBLE, &current, NULL));
    CHECK_OK(portpool_begin_handover(reg, "web", 0, &next, NULL));
    CHECK(next > current);
    /* begun twice: the handover under way is refused, not shared */
    CHECK_STATUS(portpool_begin_handover(reg, "web", 0, &again, NULL), PORTPOOL_CONFLICT);
    CHECK_MESSAGE_HAS("ticket 1");
    CHECK_OK(portpool_get(reg, "web", &got, NULL));
    CHECK(got == current); /* the old generation keeps its port until the commit */
    CHECK_OK(portpool_check(reg, next, PORTPOOL_PROTOCOL_TCP, &state, NULL, NULL));
    CHECK(state == PORTPOOL_PORT_LEASED);
    CHECK_OK(portpool_get_json(reg, "web", &json, NULL));
    {
        char want[32];
        snprintf(want, sizeof want, "\"next\":{\"port\":%u", (unsigned)next);
        CHECK(strstr(json, want) != NULL);
    }
    portpool_string_free(json);
    CHECK_OK(portpool_commit_handover(reg, "web", 0, &committed, NULL));
    CHECK(committed == next);
    CHECK_OK(portpool_get(reg, "web", &got, NULL));
    CHECK(got == next);
    CHECK_OK(portpool_check(reg, current, PORTPOOL_PROTOCOL_TCP, &state, NULL, NULL));
    CHECK(state != PORTPOOL_PORT_LEASED);
    CHECK_STATUS(portpool_commit_handover(reg, "web", 0, &committed, NULL), PORTPOOL_NOT_FOUND);
    portpool_close(reg);
    return 1;
}

static int a_second_begin_is_a_conflict_unless_it_retries_its_ticket_or_supersedes(void) {
    portpool_registry *reg = open_fresh("tickets");
    uint16_t port = 0, next = 0, again = 0, newer = 0, done = 0;
    uint64_t ticket = 0, same = 0, ticket2 = 0;
    bool released = false;
    CHECK(reg != NULL);
    CHECK_OK(portpool_allocate(reg, "api", NULL, &port, NULL));
    CHECK_OK(portpool_begin_handover_ticket(reg, "api", 0, 0, false, &next, &ticket, NULL));
    CHECK(ticket == 1);
    CHECK_STATUS(portpool_begin_handover_ticket(reg, "api", 0, 0, false, &again, NULL, NULL),
                 PORTPOOL_CONFLICT);
    CHECK_MESSAGE_HAS("ticket 1");
    CHECK_OK(portpool_begin_handover_ticket(reg, "api", 0, ticket, false, &again, &same, NULL));
    CHECK(again == next && same == ticket);
    CHECK_STATUS(portpool_release(reg, "api", &released, NULL), PORTPOOL_CONFLICT);
    CHECK_MESSAGE_HAS("commit or abort");
    CHECK_OK(portpool_begin_handover_ticket(reg, "api", 0, 0, true, &newer, &ticket2, NULL));
    CHECK(ticket2 > ticket);
    CHECK_STATUS(portpool_commit_handover_ticket(reg, "api", 0, ticket, &done, NULL), PORTPOOL_CONFLICT);
    CHECK_OK(portpool_commit_handover_ticket(reg, "api", 0, ticket2, &done, NULL));
    CHECK(done == newer);
    CHECK_OK(portpool_begin_handover(reg, "api", 0, &next, NULL));
    CHECK_OK(portpool_release_all(reg, "api", &released, NULL));
    CHECK(released);
    portpool_close(reg);
    return 1;
}

static int a_batch_handover_is_all_or_none(void) {
    portpool_registry *reg = open_fresh("batch");
    const char *names[] = {"w-1", "w-2"};
    uint16_t port = 0, next[2] = {0, 0}, done[2] = {0, 0};
    uint64_t tickets[2] = {0, 0}, wrong[2] = {0, 99};
    CHECK(reg != NULL);
    CHECK_OK(portpool_allocate(reg, "w-1", NULL, &port, NULL));
    CHECK_OK(portpool_allocate(reg, "w-2", NULL, &port, NULL));
    CHECK_OK(portpool_begin_handovers(reg, names, 2, 0, false, next, tickets, NULL));
    CHECK(tickets[0] == 1 && tickets[1] == 1 && next[0] != next[1]);
    CHECK_STATUS(portpool_begin_handovers(reg, names, 2, 0, false, next, tickets, NULL), PORTPOOL_CONFLICT);
    CHECK_STATUS(portpool_commit_handovers(reg, names, wrong, 2, 0, done, NULL), PORTPOOL_CONFLICT);
    CHECK_STATUS(portpool_commit_handovers(reg, NULL, tickets, 2, 0, done, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_OK(portpool_commit_handovers(reg, names, tickets, 2, 0, done, NULL));
    CHECK(done[0] == next[0] && done[1] == next[1]);
    portpool_close(reg);
    return 1;
}

static int names_live_in_namespaces_and_ports_stay_unique_across_them(void) {
    char path[256];
    portpool_registry *blue = NULL, *green = NULL;
    uint16_t a = 0, b = 0, checked = 0;
    char *json = NULL;
    registry_path(path, sizeof path, "namespaces");
    CHECK_OK(portpool_open_namespace(path, "blue", &blue, NULL));
    CHECK_OK(portpool_open_namespace(path, "green", &green, NULL));
    CHECK_STATUS(portpool_open_namespace(path, "a b", &green, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("namespace: ");
    CHECK_OK(portpool_allocate(blue, "worker-1", NULL, &a, NULL));
    CHECK_OK(portpool_allocate(green, "worker-1", NULL, &b, NULL));
    CHECK(a != b);
    CHECK_OK(portpool_list_json(blue, &json, NULL));
    CHECK(strstr(json, "\"namespace\":\"blue\"") != NULL && strstr(json, "green") == NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_list_all_json(blue, &json, NULL));
    CHECK(strstr(json, "\"namespace\":\"green\"") != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_port_from_int(65535, &checked, NULL));
    CHECK(checked == 65535);
    CHECK_STATUS(portpool_port_from_int(65536, &checked, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_port_from_int(0, &checked, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(blue);
    portpool_close(green);
    return 1;
}

static int counts_are_checked_as_core_checks_them(void) {
    size_t count = 7;
    CHECK_OK(portpool_count_from_int(1, &count, NULL));
    CHECK(count == 1);
    CHECK_OK(portpool_count_from_int(65535, &count, NULL));
    CHECK(count == 65535);
    CHECK_STATUS(portpool_count_from_int(0, &count, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("invalid count 0: ask for 1 to 65535 ports");
    CHECK_STATUS(portpool_count_from_int(-1, &count, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_count_from_int(65536, &count, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK(count == 65535); /* a refused count leaves the output alone */
    CHECK_STATUS(portpool_count_from_int(3, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    return 1;
}

static int aborted_handover_releases_only_the_next_port(void) {
    portpool_registry *reg = open_fresh("abort");
    uint16_t first = 0, next = 0, dropped = 0, got = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_set_pool(reg, "tiny", 23200, 23202, PORTPOOL_PROBE_OFF, NULL, NULL, NULL));
    CHECK_OK(portpool_allocate(reg, "w", "tiny", &first, NULL));
    CHECK_OK(portpool_begin_handover(reg, "w", (uint32_t)getpid(), &next, NULL));
    CHECK(next >= 23200 && next <= 23202 && next != first); /* from the lease's own pool */
    CHECK_OK(portpool_abort_handover(reg, "w", 0, &dropped, NULL));
    CHECK(dropped == next);
    CHECK_OK(portpool_get(reg, "w", &got, NULL));
    CHECK(got == first);
    CHECK_OK(portpool_get_json(reg, "w", &json, NULL));
    CHECK(strstr(json, "\"next\":null") != NULL);
    portpool_string_free(json);
    CHECK_STATUS(portpool_abort_handover(reg, "w", 0, &dropped, NULL), PORTPOOL_NOT_FOUND);
    portpool_close(reg);
    return 1;
}

static int handover_rejects_unknown_names_and_bad_arguments(void) {
    portpool_registry *reg = open_fresh("handover-args");
    uint16_t port = 0;
    CHECK(reg != NULL);
    CHECK_STATUS(portpool_begin_handover(reg, "ghost", 0, &port, NULL), PORTPOOL_NOT_FOUND);
    CHECK_MESSAGE_HAS("ghost");
    CHECK_OK(portpool_register(reg, "web", 23300, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_STATUS(portpool_begin_handover(reg, "web", 2147483646u, &port, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_begin_handover(NULL, "web", 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_begin_handover(reg, NULL, 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_begin_handover(reg, NOT_UTF8, 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_begin_handover(reg, "web", 0, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_commit_handover(NULL, "web", 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_commit_handover(reg, NULL, 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_commit_handover(reg, NOT_UTF8, 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_commit_handover(reg, "web", 0, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_abort_handover(NULL, "web", 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_abort_handover(reg, NULL, 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_abort_handover(reg, NOT_UTF8, 0, &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_abort_handover(reg, "web", 0, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int allocate_many_is_all_or_nothing(void) {
    portpool_registry *reg = open_fresh("many");
    const char *three[] = {"w1", "w2", "w3"};
    const char *twice[] = {"w1", "w1"};
    const char *with_null[] = {"w1", NULL};
    const char *with_bad_text[] = {"w1", NOT_UTF8};
    uint16_t ports[3] = {0, 0, 0};
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_set_pool(reg, "pair", 23400, 23401, PORTPOOL_PROBE_OFF, NULL, NULL, NULL));
    CHECK_STATUS(portpool_allocate_many(reg, three, 3, "pair", NULL, ports, NULL), PORTPOOL_EXHAUSTED);
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(strcmp(json, "[]") == 0); /* none of the three was leased */
    portpool_string_free(json);
    CHECK_OK(portpool_set_pool(reg, "pair", 23400, 23402, PORTPOOL_PROBE_OFF, NULL, NULL, NULL));
    CHECK_OK(portpool_allocate_many(reg, three, 3, "pair", NULL, ports, NULL));
    CHECK(ports[0] == 23400 && ports[1] == 23401 && ports[2] == 23402);
    CHECK_STATUS(portpool_allocate_many(reg, twice, 2, "pair", NULL, ports, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("twice");
    CHECK_STATUS(portpool_allocate_many(reg, with_null, 2, NULL, NULL, ports, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("names[1]");
    CHECK_STATUS(portpool_allocate_many(reg, with_bad_text, 2, NULL, NULL, ports, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate_many(reg, NULL, 2, NULL, NULL, ports, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate_many(reg, three, 3, NULL, NULL, NULL, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate_many(reg, three, 3, NOT_UTF8, NULL, ports, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_allocate_many(NULL, three, 3, NULL, NULL, ports, NULL),
                 PORTPOOL_INVALID_ARGUMENT);
    CHECK_OK(portpool_allocate_many(reg, NULL, 0, NULL, NULL, NULL, NULL));
    portpool_close(reg);
    return 1;
}

static int set_owner_ties_a_lease_to_a_process(void) {
    portpool_registry *reg = open_fresh("owner");
    uint16_t port = 0;
    size_t reclaimed = 0;
    char *json = NULL;
    int stop = -1;
    pid_t child;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "w", 23500, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    child = spawn_sleeper(&stop);
    CHECK(child > 0);
    CHECK_OK(portpool_set_owner(reg, "w", (uint32_t)child, &json, NULL));
    {
        char want[32];
        snprintf(want, sizeof want, "\"owner\":{\"pid\":%ld", (long)child);
        CHECK(strstr(json, want) != NULL);
    }
    portpool_string_free(json);
    close(stop);
    CHECK(waitpid(child, NULL, 0) == child);
    CHECK_OK(portpool_gc(reg, &reclaimed, NULL, NULL));
    CHECK(reclaimed == 1);
    CHECK_OK(portpool_register(reg, "w", 23500, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_set_owner(reg, "w", (uint32_t)getpid(), NULL, NULL));
    CHECK_OK(portpool_set_owner(reg, "w", 0, &json, NULL));
    CHECK(strstr(json, "\"owner\":null") != NULL);
    portpool_string_free(json);
    CHECK_STATUS(portpool_set_owner(reg, "ghost", 0, NULL, NULL), PORTPOOL_NOT_FOUND);
    CHECK_STATUS(portpool_set_owner(reg, "w", 2147483646u, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_set_owner(NULL, "w", 0, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_set_owner(reg, NULL, 0, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_set_owner(reg, NOT_UTF8, 0, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int who_names_the_lease_and_the_listening_process(void) {
    portpool_registry *reg = open_fresh("who");
    portpool_lease_options force = PORTPOOL_LEASE_OPTIONS_INIT;
    uint16_t bound = 0, port = 0;
    char *json = NULL;
    char want[64];
    int fd = listen_somewhere(&bound);
    CHECK(reg != NULL);
    CHECK(fd >= 0);
    force.force = true;
    CHECK_OK(portpool_register_ex(reg, "web", bound, PORTPOOL_MODE_FIXED, &force, &port, NULL));
    CHECK_OK(portpool_who_json(reg, bound, &json, NULL));
    snprintf(want, sizeof want, "{\"port\":%u,\"leases\":[{\"name\":\"web\"", (unsigned)bound);
    CHECK(strstr(json, want) != NULL);
    snprintf(want, sizeof want, "{\"pid\":%ld,", (long)getpid());
    CHECK(strstr(json, want) != NULL); /* this process holds the socket */
    portpool_string_free(json);
    close(fd);
    CHECK_STATUS(portpool_who_json(reg, 0, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_who_json(NULL, bound, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_who_json(reg, bound, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int migrate_leases_ports_that_servers_hold_and_dry_run_writes_nothing(void) {
    portpool_registry *reg = open_fresh("migrate");
    uint16_t bound = 0;
    char *json = NULL;
    char want[32];
    int fd = listen_somewhere(&bound);
    CHECK(reg != NULL);
    CHECK(fd >= 0);
    snprintf(want, sizeof want, "\"port\":%u,", (unsigned)bound);
    CHECK_OK(portpool_migrate_json(reg, true, &json, NULL));
    CHECK(strstr(json, want) != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(strcmp(json, "[]") == 0);
    portpool_string_free(json);
    CHECK_OK(portpool_migrate_json(reg, false, &json, NULL));
    CHECK(strstr(json, want) != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(strstr(json, want) != NULL);
    portpool_string_free(json);
    /* A second run leaves what the first leased alone; on a shared host it may find listeners
     * that other processes started meanwhile, so only this port's absence is certain. */
    CHECK_OK(portpool_migrate_json(reg, false, &json, NULL));
    CHECK(strstr(json, want) == NULL);
    portpool_string_free(json);
    close(fd);
    CHECK_STATUS(portpool_migrate_json(NULL, true, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_migrate_json(reg, true, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int import_reads_a_flat_name_to_port_map_all_or_nothing(void) {
    portpool_registry *reg = open_fresh("import");
    char good[256], bad[256], missing[256];
    uint16_t port = 0;
    char *json = NULL;
    FILE *f;
    CHECK(reg != NULL);
    registry_path(good, sizeof good, "ports-good");
    registry_path(bad, sizeof bad, "ports-bad");
    registry_path(missing, sizeof missing, "ports-missing");
    f = fopen(good, "w");
    CHECK(f != NULL);
    fputs("{\"keycloak\": 23600, \"web\": \"23601\"}", f);
    fclose(f);
    f = fopen(bad, "w");
    CHECK(f != NULL);
    fputs("{\"x\": 23602, \"a b\": 80, \"y\": 70000}", f);
    fclose(f);
    CHECK_OK(portpool_import(reg, good, &json, NULL));
    CHECK(count_occurrences(json, "\"name\"") == 2);
    CHECK(strstr(json, "\"skipped\":[]") != NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_get(reg, "web", &port, NULL));
    CHECK(port == 23601);
    CHECK_OK(portpool_import(reg, good, &json, NULL));
    CHECK(strstr(json, "\"imported\":[]") != NULL);
    CHECK(strstr(json, "\"skipped\":[\"keycloak\",\"web\"]") != NULL);
    portpool_string_free(json);
    CHECK_STATUS(portpool_import(reg, bad, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("70000");
    CHECK_STATUS(portpool_get(reg, "x", &port, NULL), PORTPOOL_NOT_FOUND);
    CHECK_STATUS(portpool_import(reg, missing, NULL, NULL), PORTPOOL_NOT_FOUND);
    CHECK_STATUS(portpool_import(reg, NULL, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_import(NULL, good, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

static int doctor_reports_a_lease_nothing_listens_on(void) {
    portpool_registry *reg = open_fresh("doctor");
    uint16_t port = 0;
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_doctor_json(reg, &json, NULL));
    CHECK(strstr(json, "\"kind\":\"not_listening\"") == NULL);
    portpool_string_free(json);
    CHECK_OK(portpool_register(reg, "idle", 23700, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    CHECK_OK(portpool_doctor_json(reg, &json, NULL));
    CHECK(strstr(json, "{\"kind\":\"not_listening\",\"severity\":\"info\",\"subject\":\"idle\"") != NULL);
    portpool_string_free(json);
    CHECK_STATUS(portpool_doctor_json(NULL, &json, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_doctor_json(reg, NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    portpool_close(reg);
    return 1;
}

/* ---------------------------------------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 12

struct worker {
    portpool_registry *reg;
    int index;
    uint16_t ports[PER_THREAD];
    int ok;
};

static void *allocate_many(void *arg) {
    struct worker *w = arg;
    char name[32];
    uint16_t port = 0;
    w->ok = 1;
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(name, sizeof name, "t%d-w%d", w->index, i);
        if (portpool_allocate(w->reg, name, "shared", &w->ports[i], NULL) != PORTPOOL_OK ||
            strcmp(portpool_last_error_message(), "") != 0) {
            w->ok = 0;
            return NULL;
        }
        /* An error on this thread is this thread's message only. */
        snprintf(name, sizeof name, "ghost-%d", w->index);
        if (portpool_get(w->reg, name, &port, NULL) != PORTPOOL_NOT_FOUND ||
            strstr(portpool_last_error_message(), name) == NULL) {
            w->ok = 0;
            return NULL;
        }
    }
    return NULL;
}

static int closed_or_foreign_handles_are_invalid_arguments_never_read(void) {
    portpool_registry *reg = open_fresh("closed");
    portpool_registry *foreign = (portpool_registry *)&scratch[0];
    uint16_t port = 0;
    char *path = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_register(reg, "web", 21400, PORTPOOL_MODE_FLEXIBLE, &port, NULL));
    portpool_close(reg);
    /* Under valgrind, any read of the freed handle would fail the run. */
    CHECK_STATUS(portpool_get(reg, "web", &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not an open handle");
    CHECK_STATUS(portpool_registry_path(reg, &path, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_release(reg, "web", NULL, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_STATUS(portpool_get(foreign, "web", &port, NULL), PORTPOOL_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not an open handle");
    /* Closing twice, or closing what never was a handle, does nothing. */
    portpool_close(reg);
    portpool_close(foreign);
    return 1;
}

static int threads_sharing_one_handle_never_get_one_port_twice(void) {
    portpool_registry *reg = open_fresh("threads");
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    static unsigned char seen[65536];
    char *json = NULL;
    CHECK(reg != NULL);
    CHECK_OK(portpool_set_pool(reg, "shared", 24000, 24999, PORTPOOL_PROBE_OFF, NULL, NULL, NULL));
    for (int t = 0; t < THREADS; t++) {
        workers[t].reg = reg;
        workers[t].index = t;
        CHECK(pthread_create(&threads[t], NULL, allocate_many, &workers[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_join(threads[t], NULL) == 0);
    memset(seen, 0, sizeof seen);
    for (int t = 0; t < THREADS; t++) {
        CHECK(workers[t].ok);
        for (int i = 0; i < PER_THREAD; i++) {
            uint16_t port = workers[t].ports[i];
            CHECK(port >= 24000 && port <= 24999);
            CHECK(!seen[port]);
            seen[port] = 1;
        }
    }
    CHECK_OK(portpool_list_json(reg, &json, NULL));
    CHECK(count_occurrences(json, "\"name\"") == THREADS * PER_THREAD);
    portpool_string_free(json);
    portpool_close(reg);
    return 1;
}

/* ---------------------------------------------------------------------------------------- */

/* Releasing a lease another user made: a conflict naming that user, unless forced. Run as a
 * user other than root (root may anyway): in a child that becomes nobody when this runs as
 * root, on a registry that child writes itself, holding a lease uid 4242 made. */
static int release_theirs(void) {
    char dir[] = "/tmp/portpool-force-XXXXXX", path[64];
    portpool_registry *reg = NULL;
    bool released = false;
    FILE *file;
    int ok;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/r.json", dir);
    file = fopen(path, "w");
    CHECK(file != NULL);
    fputs("{\"version\":2}\n{\"lease\":{\"name\":\"theirs\",\"port\":1,\"protocol\":\"tcp\","
          "\"mode\":\"fixed\",\"pool\":null,\"created\":1,\"uid\":4242}}\n",
          file);
    CHECK(fclose(file) == 0);
    CHECK_OK(portpool_open(path, &reg, NULL));
    ok = portpool_release(reg, "theirs", &released, NULL) == PORTPOOL_CONFLICT &&
         strstr(portpool_last_error_message(), "uid 4242") != NULL;
    ok = ok && portpool_set_force(reg, true, NULL) == PORTPOOL_OK &&
         portpool_release(reg, "theirs", &released, NULL) == PORTPOOL_OK && released;
    portpool_close(reg);
    snprintf(path, sizeof path, "%s/r.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/r.json.lock", dir);
    unlink(path);
    rmdir(dir);
    return ok;
}

static int another_users_lease_is_released_only_with_force(void) {
    int status = 0;
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        _exit(release_theirs() ? 0 : 1);
    }
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STATUS(portpool_set_force(NULL, true, NULL), PORTPOOL_INVALID_ARGUMENT);
    return 1;
}

struct test {
    const char *name;
    int (*run)(void);
};

#define TEST(fn) {#fn, fn}

static const struct test tests[] = {
    TEST(a_second_begin_is_a_conflict_unless_it_retries_its_ticket_or_supersedes),
    TEST(a_batch_handover_is_all_or_none),
    TEST(counts_are_checked_as_core_checks_them),
    TEST(names_live_in_namespaces_and_ports_stay_unique_across_them),
    TEST(version_and_abi_match_the_header),
    TEST(open_rejects_null_out_and_empty_path),
    TEST(open_null_path_uses_portpool_registry_from_the_environment),
    TEST(open_takes_a_path_that_is_not_utf8),
    TEST(frees_accept_null),
    TEST(registry_path_rejects_null_arguments),
    TEST(success_empties_the_last_error_message),
    TEST(errors_come_back_with_the_call_and_outlive_the_threads_message),
    TEST(flexible_register_skips_ports_leased_to_others),
    TEST(fixed_register_of_a_leased_port_is_a_conflict_naming_the_holder),
    TEST(register_rejects_null_bad_text_bad_port_and_bad_mode),
    TEST(names_with_quotes_and_slashes_are_stored_exactly),
    TEST(udp_and_tcp_leases_of_one_port_coexist),
    TEST(a_tcp_udp_lease_holds_its_port_for_both_and_reads_back),
    TEST(register_ex_null_options_are_the_defaults),
    TEST(register_ex_rejects_bad_protocol_and_dead_pid),
    TEST(options_lead_with_their_size_and_unknown_fields_must_be_zero),
    TEST(register_ex_records_owner_and_ttl),
    TEST(fixed_register_of_a_bound_port_needs_force),
    TEST(get_reports_not_found_and_rejects_bad_arguments),
    TEST(allocate_hands_out_each_pool_port_once_then_is_exhausted),
    TEST(allocate_null_pool_means_the_default_pool),
    TEST(allocate_rejects_unknown_pool_and_bad_arguments),
    TEST(release_says_whether_there_was_a_lease),
    TEST(another_users_lease_is_released_only_with_force),
    TEST(list_json_holds_every_lease_sorted_by_name),
    TEST(pools_json_always_holds_the_default_pool),
    TEST(set_pool_rejects_reversed_range_bad_probe_and_bad_text),
    TEST(set_pool_returns_its_warnings_beside_the_pool),
    TEST(lease_open_makes_a_new_lease_that_close_releases),
    TEST(lease_open_of_a_name_that_holds_a_lease_is_a_conflict),
    TEST(lease_open_takes_a_pool_or_ports_in_a_mode),
    TEST(lease_open_rejects_null_bad_text_and_a_bad_choice),
    TEST(lease_close_and_free_accept_null_and_refuse_foreign_pointers),
    TEST(a_forked_child_closing_its_copy_never_releases_the_parents_lease),
    TEST(register_ports_takes_the_first_free_preferred_port_then_the_range),
    TEST(find_free_ex_returns_count_distinct_ports_of_the_range),
    TEST(listen_hands_over_a_listening_socket_on_the_leased_port),
    TEST(listen_binds_udp_and_rejects_bad_arguments),
    TEST(check_tells_free_leased_and_busy_ports_apart),
    TEST(gc_reclaims_leases_whose_owner_exited),
    TEST(renew_restarts_the_time_to_live),
    TEST(reset_empties_the_registry),
    TEST(is_free_and_find_free_see_bound_sockets),
    TEST(is_free_at_probes_one_address_or_the_wildcards),
    TEST(a_registry_this_process_cannot_compact_is_a_warning_once),
    TEST(corrupt_registry_is_a_registry_error_and_is_left_untouched),
    TEST(registry_under_a_regular_file_is_an_io_error),
    TEST(a_lock_held_past_the_lock_timeout_is_busy_and_reads_go_on),
    TEST(handover_leases_a_second_port_until_commit),
    TEST(aborted_handover_releases_only_the_next_port),
    TEST(handover_rejects_unknown_names_and_bad_arguments),
    TEST(allocate_many_is_all_or_nothing),
    TEST(set_owner_ties_a_lease_to_a_process),
    TEST(who_names_the_lease_and_the_listening_process),
    TEST(migrate_leases_ports_that_servers_hold_and_dry_run_writes_nothing),
    TEST(import_reads_a_flat_name_to_port_map_all_or_nothing),
    TEST(doctor_reports_a_lease_nothing_listens_on),
    TEST(repair_names_what_it_lost_and_brings_a_damaged_registry_back),
    TEST(closed_or_foreign_handles_are_invalid_arguments_never_read),
    TEST(threads_sharing_one_handle_never_get_one_port_twice),
};

/* Removes the scratch directory and the files in it. */
static void remove_scratch(void) {
    DIR *dir = opendir(scratch);
    struct dirent *entry;
    char path[512];
    if (dir == NULL)
        return;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", scratch, entry->d_name);
        unlink(path);
    }
    closedir(dir);
    rmdir(scratch);
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    const char *tmp = getenv("TMPDIR");
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(scratch, sizeof scratch, "%s/portpool-c-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(scratch) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    /* No test may fall back to the host's registry. */
    unsetenv("PORTPOOL_REGISTRY");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (only != NULL && strcmp(only, tests[i].name) != 0)
            continue;
        current_test = tests[i].name;
        if (tests[i].run()) {
            printf("ok   %s\n", current_test);
            passed++;
        } else {
            printf("FAIL %s\n", current_test);
            failed++;
        }
    }
    remove_scratch();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
