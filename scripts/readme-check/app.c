/* The newcomer's program of scripts/readme-check.sh's C blocks: opens the registry in
 * $PORTPOOL_REGISTRY and leases one port. */
#include <portpool.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    portpool_registry *reg = NULL;
    uint16_t port = 0;
    if (portpool_abi_version() != PORTPOOL_ABI_VERSION) return 1;
    if (portpool_open(getenv("PORTPOOL_REGISTRY"), &reg, NULL) != PORTPOOL_OK) return 1;
    if (portpool_allocate(reg, "readme-c", NULL, &port, NULL) != PORTPOOL_OK) return 1;
    printf("readme-c: %u\n", (unsigned)port);
    portpool_close(reg);
    return 0;
}
