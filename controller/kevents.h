/*
 * kevents.h - a Kubernetes Event recorder like client-go's tools/record (kube-api.md §5.2):
 * core/v1 Events about WorkerPools (or any object), written through the kube client.
 *
 * kevents_record(r, obj, type, reason, message, now) turns one occurrence into at most one
 * write, asynchronously:
 *   1. Similar events (same involvedObject, type, reason; any message) are counted per
 *      10-minute window (KEVENTS_WINDOW_MS, restarted by each occurrence); from the
 *      KEVENTS_SIMILAR_MAX-th distinct message on, they are combined into one Event whose
 *      message is "(combined from similar events): <latest message>" (client-go's
 *      EventAggregator).
 *   2. The same (involvedObject, type, reason, message) - or the combined key - seen within
 *      KEVENTS_WINDOW_MS of its last occurrence is the same Event: count+1, lastTimestamp =
 *      now, written as a merge PATCH of {count, lastTimestamp, message} on the existing Event
 *      instead of a new one. Older than the window: a new Event (count 1). DECISION: client-go
 *      dedups exact duplicates without a time limit; the window here keeps one long-lived
 *      Event from hiding that a problem went away and came back (Events expire after 1 h in
 *      most clusters anyway).
 *   3. Spam filter per involvedObject (all reasons): a token bucket of KEVENTS_BURST writes,
 *      refilled with one token every KEVENTS_REFILL_MS (client-go: 25, 1 per 5 min). A write
 *      without a token is skipped (kevents_record returns 1); the cached count still grows,
 *      so the next write of that Event carries the total.
 * All three caches are LRUs of at most KEVENTS_CACHE_MAX keys (client-go: 4096); an entry
 * with a write in flight or waiting for a retry is never evicted (when every entry is busy
 * the new occurrence is dropped and counted).
 *
 * Writes: POST /api/v1/namespaces/<ns>/events (ns = the object's, "default" when it has
 * none) with metadata.name "<object name>.<hex unix nanos>", involvedObject {apiVersion,
 * kind, namespace, name, uid, resourceVersion}, reason, message (at most KEVENTS_MESSAGE_MAX
 * bytes, cut on a UTF-8 boundary), type Normal|Warning, source.component = component,
 * firstTimestamp, lastTimestamp, count, reportingComponent = component, reportingInstance =
 * instance. One write per Event at a time: occurrences during a write are folded into one
 * PATCH after it. PATCH 404 (the Event expired) -> POST it again; POST 409 AlreadyExists ->
 * PATCH. Transient failures (no response, 429, 5xx after kube's own Retry-After retries) are
 * retried after 1, 2, 4 s (KEVENTS_RETRIES), then dropped; other errors are dropped at once.
 * Drops are logged (event=kevents.dropped) and counted; Events never block reconciling.
 *
 * Messages are written as given (invalid UTF-8 bytes as '?'): callers keep secrets out of
 * them (DESIGN.md §4 rule 7).
 *
 * Requires RBAC: events create, patch (manifests/rbac.yaml).
 *
 * Ownership: the recorder borrows k and loop (both must outlive it) and copies every
 * string. kevents_free() may be called with writes in flight: their callbacks then do
 * nothing; run the loop afterwards to close the retry timer. Not thread-safe.
 */
#ifndef AZPOOL_KEVENTS_H
#define AZPOOL_KEVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "kube.h"

#define KEVENTS_CACHE_MAX   4096
#define KEVENTS_WINDOW_MS   (10 * 60 * 1000)
#define KEVENTS_SIMILAR_MAX 10
#define KEVENTS_BURST       25
#define KEVENTS_REFILL_MS   (5 * 60 * 1000)
#define KEVENTS_MESSAGE_MAX 1024
#define KEVENTS_RETRIES     3
#define KEVENTS_FIELD_MAX   253 /* names, kinds, uids, reasons: longer is -RC_EINVAL */

/* Reasons azpool uses (PascalCase, like Kubernetes' own). */
#define KEVENTS_SCALED_OUT         "ScaledOut"
#define KEVENTS_SCALED_IN          "ScaledIn"
#define KEVENTS_CREATED            "Created"
#define KEVENTS_DELETED            "Deleted"
#define KEVENTS_ROLLOUT_STARTED    "RolloutStarted"
#define KEVENTS_ROLLOUT_COMPLETED  "RolloutCompleted"
#define KEVENTS_ROLLOUT_HALTED     "RolloutHalted"
#define KEVENTS_INSTANCE_EXPIRED   "InstanceExpired"
#define KEVENTS_INSTANCE_FAILED    "InstanceFailed"
#define KEVENTS_REIMAGED           "Reimaged"
#define KEVENTS_THROTTLED_BY_AZURE "ThrottledByAzure"
#define KEVENTS_AZURE_ERROR        "AzureError"
#define KEVENTS_ACTION_FAILED      "ActionFailed" /* failed before Azure answered (a Secret) */
#define KEVENTS_INVALID_SPEC       "InvalidSpec"
#define KEVENTS_STALLED            "Stalled"
#define KEVENTS_FINALIZER_ADDED    "FinalizerAdded"
#define KEVENTS_CLEANUP_COMPLETED  "CleanupCompleted"
#define KEVENTS_LEADER_ELECTED     "LeaderElection"

enum kevents_type { KEVENTS_NORMAL = 0, KEVENTS_WARNING };

/* The involvedObject. Strings are borrowed for the call; namespace NULL/"" for a
 * cluster-scoped object; resource_version may be NULL. */
struct kevents_ref {
    const char *api_version; /* "azpool.dev/v1alpha1" */
    const char *kind;        /* "WorkerPool" */
    const char *namespace;
    const char *name;
    const char *uid;
    const char *resource_version;
};

struct kevents_stats {
    uint64_t recorded;   /* kevents_record calls accepted */
    uint64_t created;    /* POSTs that succeeded */
    uint64_t patched;    /* PATCHes that succeeded */
    uint64_t combined;   /* occurrences folded into a combined ("similar events") Event */
    uint64_t spam_skips; /* writes skipped by the spam filter */
    uint64_t retries;    /* writes retried after a transient failure */
    uint64_t dropped;    /* writes given up (terminal error, retries exhausted, cache full) */
};

struct kevents;

/* component: source.component and reportingComponent ("azpool"); instance:
 * reportingInstance (the pod name, at most 128 bytes). NULL when out of memory. */
struct kevents *kevents_new(uv_loop_t *loop, struct kube *k, const char *component,
                            const char *instance);
void kevents_free(struct kevents *r); /* NULL is fine */

/* Records one occurrence at now_ms (wall clock, ms). Returns 0 (a write is issued or folded
 * into one in flight), 1 (skipped by the spam filter; counted), or -RC_EINVAL (missing or
 * oversized field) / -RC_ENOMEM / -RC_ELIMIT (every cache entry busy). Never calls back. */
int kevents_record(struct kevents *r, const struct kevents_ref *obj, enum kevents_type type,
                   const char *reason, const char *message, int64_t now_ms);
/* printf-style message. */
int kevents_recordf(struct kevents *r, const struct kevents_ref *obj, enum kevents_type type,
                    const char *reason, int64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Writes in flight or waiting for a retry (0: idle). */
size_t kevents_pending(const struct kevents *r);
const struct kevents_stats *kevents_stats(const struct kevents *r);

#endif
