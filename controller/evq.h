/*
 * evq.h - `--events-queue URL`: Event Grid resource events delivered into an
 * Azure Storage queue (DESIGN.md §6, seed 002; shared/reference/azure-arm.md
 * §10) turned into "reconcile this pool now" hints.
 *
 * Loop: GET {queue}/messages?numofmessages=32&visibilitytimeout=V; for each
 * message: decode, report each new event through on_event, then DELETE it by
 * pop receipt. A full batch (32) is followed at once by the next GET; otherwise
 * the next GET comes after poll_ms. Failed GETs back off (doubling from
 * poll_ms up to EVQ_BACKOFF_MAX_MS). At most one GET in flight.
 *
 * Decisions (others rely on them):
 * - Encoding: a message text starting with '{' or '[' (after blanks) is JSON;
 *   otherwise it is base64 of JSON (Event Grid's storage-queue delivery has
 *   used both; armsim sends base64 by default).
 * - Schemas: Event Grid ({"id","eventType","subject","data":{"resourceUri"}})
 *   and CloudEvents 1.0 ({"specversion","id","type","source","subject",
 *   "data":{"resourceUri"}}); a JSON array holds several events. The resource
 *   is data.resourceUri when present, else subject (CloudEvents: source +
 *   subject when subject is relative). Events without an id or a resource
 *   ("/subscriptions/..." id) fail to decode.
 * - At-least-once: event ids are remembered in a bounded LRU (EVQ_SEEN_MAX);
 *   a repeated id is deleted without a second on_event. Events are hints: the
 *   controller always re-reads ARM.
 * - Poison: a message that does not decode, or whose DequeueCount exceeds
 *   max_dequeue (default 5; it kept coming back because its delete failed), is
 *   put into "<queue>-poison" (created on first use; 409/204 "exists" is fine;
 *   a queue name over 56 characters is cut to 56, less trailing '-', so that
 *   the poison queue's name fits Azure's 63)
 *   with its text unchanged, then deleted. If the poison put fails the message
 *   is left alone (it reappears after the visibility timeout).
 * - Messages are never logged whole (events carry claims); evq's logs name
 *   the queue (without its query) and the message id only. Logging each event
 *   is the on_event callback's business.
 * - Cost: one GET per poll_ms (default 2 s) while the queue is empty.
 * - Mapping events to pools: the controller's on_event does it; evq_pool_owns()
 *   answers whether an ARM id belongs to a pool by id prefix (tags are not in
 *   the event).
 *
 * Auth: as azq.h: a SAS in the URL query, else the connection string in
 * opts.conn (e.g. from AZURE_STORAGE_CONNECTION_STRING), else the AAD token of
 * storage_cred (scope https://storage.azure.com/.default).
 *
 * Ownership: loop, h and storage_cred are borrowed and must outlive the
 * struct evq and its requests (free h after it). evq_free stops at once; the
 * requests still in flight complete into the freed-later remains (refcounted)
 * without calling on_event. The loop must run afterwards (a timer closes).
 * Single-threaded.
 */
#ifndef AZPOOL_EVQ_H
#define AZPOOL_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "az_cred.h"
#include "http.h"
#include "rc_err.h"
#include "rc_model.h"

#define EVQ_SEEN_MAX       4096
#define EVQ_BACKOFF_MAX_MS 60000
#define EVQ_EVENTS_MAX     64 /* events in one message (an array) */
#define EVQ_ID_MAX         128
#define EVQ_RESOURCE_MAX   1024

/* A decoded event. */
struct evq_event {
    char id[EVQ_ID_MAX];
    char type[128];                  /* "Microsoft.Resources.ResourceWriteSuccess" */
    char resource[EVQ_RESOURCE_MAX]; /* ARM id */
};

/* Called once per new event (from the loop). */
typedef void (*evq_event_cb)(void *arg, const struct evq_event *ev);

struct evq_opts {
    const char *conn; /* connection string or NULL (copied) */
    int poll_ms;      /* 0: 2000 */
    int visibility_s; /* 0: 60 */
    int max_dequeue;  /* 0: 5 */
    evq_event_cb on_event;
    void *arg;
};

struct evq_stats {
    uint64_t polls, poll_failures;
    uint64_t messages;   /* received */
    uint64_t events;     /* reported through on_event */
    uint64_t duplicates; /* events whose id was seen before */
    uint64_t deleted;    /* messages deleted after processing */
    uint64_t poisoned;   /* moved to <queue>-poison */
};

struct evq;

/* Starts polling queue_url ("{account url}/{queue}[?sas]"). NULL with err set
 * on a bad URL or missing credentials. */
struct evq *evq_new(uv_loop_t *loop, struct http *h, struct az_cred *storage_cred,
                    const char *queue_url, const struct evq_opts *opts, struct rc_err *err);
void evq_free(struct evq *q); /* NULL is fine */
void evq_stats(const struct evq *q, struct evq_stats *ret);

/* Decodes a message text into up to max events; returns how many (>= 1) or a
 * negative code (-RC_EPROTO: not an event; -RC_ELIMIT). */
int evq_decode(const char *text, struct evq_event *ret, size_t max, struct rc_err *err);

/*
 * True when the ARM id belongs to pool p (case-insensitive, on segment
 * boundaries): its resource group itself; in ScaleSet mode the scale set and
 * everything below it; in VirtualMachines mode its VMs (names made by
 * rc_name_vm for this pool), their children (extensions) and NICs
 * ("<vm>-nic"); the hybrid worker group it registers into and the jobs of its
 * afterCreate hook's Automation account.
 */
bool evq_pool_owns(const struct rc_pool *p, const char *id);

#endif
