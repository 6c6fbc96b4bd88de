/*
 * az_arm.h - the libcurl implementation of struct az_ops (az.h) against an
 * ARM endpoint ("https://management.azure.com", or armsim's address).
 *
 * Ownership: loop, http and cred are borrowed and must outlive the client.
 * Shutdown order: http_free() first (in-flight requests complete and their
 * operations stop waiting on the network), then az_arm_free(), which completes
 * every pending operation with a cancel error; then run the loop so handles
 * close.
 *
 * Statistics for /metrics are kept here (requests by method and status,
 * remaining budget per bucket, seconds spent paused by throttling).
 */
#ifndef AZPOOL_AZ_ARM_H
#define AZPOOL_AZ_ARM_H

#include <stdint.h>

#include <uv.h>

#include "az.h"
#include "az_cred.h"
#include "http.h"

struct az_arm;

struct az_arm_stats {
    uint64_t requests;             /* HTTP requests sent (incl. polls, pages, retries) */
    uint64_t by_status[6];         /* [0] transport errors, [n] = nxx responses */
    uint64_t throttled;            /* 429 responses */
    int64_t remaining[AZ_BUCKETS]; /* last x-ms-ratelimit-remaining-subscription-*, -1 unknown */
    double throttled_seconds;      /* total time buckets were paused */
    uint64_t sent_while_paused;    /* must stay 0: checked by tests */
};

/* endpoint without a trailing slash. NULL on allocation failure. */
struct az_arm *az_arm_new(uv_loop_t *loop, struct http *h, struct az_cred *cred,
                          const char *endpoint);
void az_arm_free(struct az_arm *a); /* NULL is fine */
/* The seam: fills ops with this client's functions. */
void az_arm_ops(struct az_arm *a, struct az_ops *ret);
const struct az_arm_stats *az_arm_stats(const struct az_arm *a);
/* Minimum delay between retries (tests lower it; default 200 ms, doubling). */
void az_arm_set_backoff(struct az_arm *a, int64_t base_ms);

#endif
