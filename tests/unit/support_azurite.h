/*
 * support_azurite.h - starts Azurite's queue service (npm azurite, installed by
 * hack/install-deps.sh) for unit tests that need a real storage queue.
 *
 * azurite_start() spawns `azurite-queue` on a free loopback port with a
 * temporary data directory (--skipApiVersionCheck --silent) and waits until it
 * accepts connections (at most 30 s). The queue account URL is
 * http://127.0.0.1:PORT/devstoreaccount1 (Shared Key with the well-known
 * development key). azurite_stop() ends the process it started (by its pid)
 * and removes the directory. A missing azurite-queue is a failure: callers
 * assert on the return value.
 *
 * Ownership: the struct is the caller's; strings inside are fixed buffers.
 */
#ifndef AZPOOL_SUPPORT_AZURITE_H
#define AZPOOL_SUPPORT_AZURITE_H

#include <sys/types.h>

struct azurite {
    pid_t pid;
    int port;
    char dir[256];
    char url[128];  /* http://127.0.0.1:PORT/devstoreaccount1 */
    char conn[512]; /* connection string for it */
};

/* 0 when Azurite is up, -1 otherwise (the reason is printed on stderr). */
int azurite_start(struct azurite *a);
void azurite_stop(struct azurite *a);

#endif
