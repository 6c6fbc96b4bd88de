/*
 * kinformer.h - a cache of one Kubernetes collection kept current by list +
 * watch (client-go's reflector + store, kube-api.md §4.2), on the kube client.
 *
 * Life of an informer:
 *   LIST (pages of KINF_PAGE, resourceVersion unset = a consistent read)
 *     -> the list is diffed against the cache: every difference is delivered
 *        as an add (old NULL), update (both) or delete (new NULL), the cache is
 *        updated change by change, so during a callback kinformer_get() already
 *        shows the change; then "synced" (on_synced).
 *   WATCH from the list's resourceVersion (allowWatchBookmarks, timeoutSeconds
 *     random in [watch_min_s, watch_max_s)). ADDED/MODIFIED/DELETED update the
 *     cache and are delivered; an event whose resourceVersion equals the cached
 *     object's is a duplicate and is dropped; a DELETED of an unknown object is
 *     dropped. Every event and BOOKMARK advances the resourceVersion.
 *   The stream ends cleanly (timeout, server restart of the stream): watch
 *     again from the last resourceVersion at once. A stream that ends within
 *     1 s without an event counts as a failure (client-go's "very short watch").
 *   410 Gone / Expired (ERROR event with code 410, or an HTTP 410): LIST again
 *     (the diff brings the cache up to date with no lost or duplicated change).
 *   Any other failure (transport error, 5xx, 429, 403, other ERROR events):
 *     wait a jittered, capped exponential backoff (backoff_base_ms doubling to
 *     backoff_max_ms, "equal jitter": between half and all of it), then watch
 *     again from the last resourceVersion, or LIST again when the failure was
 *     a list or an ERROR event. The failure count resets after a successful
 *     list and after a watch event.
 *
 * Safety (DESIGN.md §4 rule 4): a failed or partial list changes nothing in the
 * cache; only a complete list can delete (and only what it no longer shows).
 * Limit: more than KINF_OBJECTS_MAX objects in a list fails the list.
 *
 * Ownership: the cache holds references to the objects (json_t) it got from
 * the server; objects passed to the callback and returned by kinformer_get()
 * are borrowed (valid until the next change of that key; json_incref to
 * keep). The informer borrows k, which must outlive it. The callback must not
 * free the informer. kinformer_free() may be called at any time outside the
 * informer's own callbacks; memory still referenced by an in-flight list
 * request is released when that request completes (at the latest in
 * kube_free()). Not thread-safe.
 */
#ifndef AZPOOL_KINFORMER_H
#define AZPOOL_KINFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kube.h"

#define KINF_PAGE        500
#define KINF_OBJECTS_MAX 100000

/* old NULL: added; new NULL: deleted; both: updated. Borrowed. */
typedef void (*kinformer_cb)(void *arg, const json_t *old_obj, const json_t *new_obj);
/* After every complete list (the first one makes the informer synced). */
typedef void (*kinformer_synced_cb)(void *arg);
/* A list or watch failed (before the backoff): the HTTP status (0: no
 * response), the Status reason and message (or the transport error), and the
 * failures in a row so far (1 for the first). For logs and metrics. */
typedef void (*kinformer_error_cb)(void *arg, const char *path, long status, const char *reason,
                                   const char *message, int failures_in_row);

struct kinformer_opts {
    const char *path;           /* collection, e.g. "/apis/azpool.dev/v1alpha1/workerpools" */
    const char *label_selector; /* NULL: all */
    const char *field_selector; /* NULL: all */
    int watch_min_s;            /* default 300 */
    int watch_max_s;            /* default 600 */
    int64_t backoff_base_ms;    /* default 800 */
    int64_t backoff_max_ms;     /* default 30000 */
    kinformer_cb on_change;
    kinformer_synced_cb on_synced; /* may be NULL */
    kinformer_error_cb on_error;   /* may be NULL */
    void *arg;
};

struct kinformer_stats {
    uint64_t lists;     /* complete lists */
    uint64_t relists;   /* lists caused by 410 */
    uint64_t watches;   /* watch requests started */
    uint64_t events;    /* watch events applied (not counting dropped duplicates) */
    uint64_t dropped;   /* duplicate events dropped */
    uint64_t bookmarks; /* BOOKMARK events */
    uint64_t failures;  /* failed lists and watches */
    int failures_in_row;
    int64_t last_backoff_ms; /* the last backoff waited */
};

struct kinformer;

/* Copies opts (strings included). NULL on allocation failure. Starts nothing. */
struct kinformer *kinformer_new(struct kube *k, const struct kinformer_opts *opts);
/* Starts the first list. Returns 0 or a negative RC_E* code. */
int kinformer_start(struct kinformer *inf);
void kinformer_free(struct kinformer *inf); /* NULL is fine; no callback runs afterwards */

bool kinformer_synced(const struct kinformer *inf);
/* The object namespace/name (ns NULL or "": cluster-scoped), borrowed, or NULL. */
const json_t *kinformer_get(const struct kinformer *inf, const char *ns, const char *name);
/* The whole cache: a JSON object keyed "namespace/name" (or "name"), borrowed;
 * iterate with json_object_foreach, do not modify. */
const json_t *kinformer_cache(const struct kinformer *inf);
size_t kinformer_count(const struct kinformer *inf);
/* The last resourceVersion seen (list, event or bookmark); "" before the first list. */
const char *kinformer_resource_version(const struct kinformer *inf);
const struct kinformer_stats *kinformer_stats(const struct kinformer *inf);

/* The cache key of an object ("ns/name" or "name"); 0, or -RC_EINVAL when the
 * object has no metadata.name. */
int kinformer_key(const json_t *obj, char *buf, size_t size);

#endif
