/*
 * az.h - the seam between the controller and Azure Resource Manager
 * (DESIGN.md §3): struct az_ops with two implementations, the libcurl ARM
 * client (az_arm.c, az_arm_new) and a recording fake for unit tests.
 *
 * Call contract: an operation returning an error means its callback never
 * runs; otherwise the callback runs exactly once, later, from the loop.
 *
 * What an operation hides from its caller:
 *  - credentials: a bearer token from the chain of az_cred.h, cached and
 *    refreshed before expiry;
 *  - long-running operations: a write answered 201/202 is followed to its end
 *    (Azure-AsyncOperation preferred, else Location; Retry-After honoured), then
 *    the resource is read once more for PUT/PATCH; the callback sees the final
 *    state. With AZ_WRITE_ACCEPT the caller asks for less: the callback runs
 *    as soon as ARM accepted the write and its effect is observable (a PUT or
 *    PATCH answered 200/201, the resource visible with a non-terminal
 *    provisioningState; a POST or DELETE answered 202), with res->accepted set
 *    and res->retry_after_ms = when to look again (the operation's
 *    Retry-After, else AZ_POLL_DEFAULT_MS); the operation is not followed. A
 *    PUT/PATCH answered 202 (the resource stays invisible until the operation
 *    ends, azure-arm.md §2.3) is followed to its end even then;
 *  - paging: list follows nextLink (only to the same host) and returns one
 *    {"value": [...]} with every item;
 *  - throttling: x-ms-ratelimit-remaining-* headers are tracked per bucket
 *    (reads, writes, deletes); on 429 the whole bucket pauses for Retry-After
 *    and no request is sent to it meanwhile; 5xx, 408, resets and 429 are
 *    retried (AZ_ATTEMPTS_MAX attempts) after Retry-After or a backoff.
 * What the caller sees: struct az_result with the final status, the JSON body,
 * and an error classified transient / terminal / not-found.
 */
#ifndef AZPOOL_AZ_H
#define AZPOOL_AZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_err.h"
#include "rc_plan.h"

#define AZ_ATTEMPTS_MAX    5
#define AZ_LIST_ITEMS_MAX  100000
#define AZ_LRO_MAX_MS      (60LL * 60 * 1000) /* a write still running after an hour: Stalled */
#define AZ_POLL_DEFAULT_MS 2000 /* an operation without Retry-After is polled this often */

/* Flags of az_ops.write. */
#define AZ_WRITE_ACCEPT 1u /* complete once accepted (see above) */

enum az_bucket { AZ_BUCKET_READS = 0, AZ_BUCKET_WRITES, AZ_BUCKET_DELETES, AZ_BUCKETS };

struct az_result {
    long status;         /* final HTTP status; 0 when none arrived */
    json_t *body;        /* parsed body, NULL when empty or not JSON; borrowed */
    struct rc_err err;   /* code 0 on success (2xx); else classified, http_status set */
    char azure_code[64]; /* error.code of an ARM error body ("ResourceNotFound"), or "" */
    char correlation_id[64];
    int64_t retry_after_ms; /* Retry-After of the last response, 0 when none */
    int attempts;
    bool accepted; /* AZ_WRITE_ACCEPT: accepted, the operation runs on unfollowed */
};

typedef void (*az_cb)(void *arg, const struct az_result *res);

struct az_ops {
    void *self;
    /* GET path?api-version (following nextLink) -> {"value": [...]}. */
    int (*list)(void *self, const char *path, const char *api_version, az_cb cb, void *arg,
                struct rc_err *err);
    int (*get)(void *self, const char *path, const char *api_version, az_cb cb, void *arg,
               struct rc_err *err);
    /* PUT, PATCH, POST or DELETE, with the LRO followed to its end (flags 0)
     * or until accepted (AZ_WRITE_ACCEPT). body is borrowed (serialised
     * before the call returns); NULL for none. */
    int (*write)(void *self, enum rc_method method, const char *path, const char *api_version,
                 const json_t *body, unsigned flags, az_cb cb, void *arg, struct rc_err *err);
};

/* Which bucket a method draws from. */
enum az_bucket az_bucket_of(const char *method);
const char *az_bucket_name(enum az_bucket b); /* "reads", "writes", "deletes" */

/* Fills res->err, azure_code and the class from an HTTP status and an ARM
 * error body ({"error":{"code","message"}} or unwrapped {"code","message"}).
 * 404 -> not-found; 408, 429, 5xx -> transient; other 4xx -> terminal. */
void az_classify(long status, const json_t *body, struct az_result *res);

/* Parses Retry-After (seconds, or an HTTP date relative to now_ms) and the
 * retry-after-ms / x-ms-retry-after-ms variants (preferred, in that order).
 * Returns ms, or -1 when absent/unparseable. */
int64_t az_retry_after_ms(const char *retry_after_ms, const char *x_ms_retry_after_ms,
                          const char *retry_after, int64_t now_ms);

#endif
