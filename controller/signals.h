/*
 * signals.h - polls each pool's autoscale metric and busy source (DESIGN.md §2
 * autoscale/busy, §6) and hands the latest values to the planner through
 * struct rc_obs_pool (has_signal, signal, busy[], job_done[]).
 *
 * Sources (struct rc_signal):
 *   azureQueue  metric: GET {accountUrl}/{queue}?comp=metadata ->
 *               x-ms-approximate-messages-count. busy: peek
 *               (GET .../messages?peekonly=true&numofmessages=32); each message
 *               body is an instance (VM) name. Credentials: credentialsSecretRef
 *               holds a connection string (Shared Key or SAS, azq.h); without
 *               it, the AAD token of storage_cred (managed identity / the
 *               environment chain, scope https://storage.azure.com/.default).
 *   http        GET url with the headers of headersSecretRef; jsonPointer
 *               (RFC 6901; "" or absent: the whole document) selects a number
 *               (metric) or an array of strings (busy).
 *   tag         nothing to poll (the busy flag comes from the ARM tag).
 *
 * Decisions (others rely on them):
 * - Cadence: every pollSeconds (the decoder defaults it to 15 s; 0 here also
 *   means 15 s), jittered +-10% per poll; the first poll of a new or changed
 *   source within a second. At most one request per source in flight; a poll
 *   that is due while one is in flight is skipped. Request time is bounded by
 *   the struct http's timeout: give signals its own struct http with a short
 *   timeout (e.g. 10 s), so a hanging endpoint cannot hold a source longer.
 * - Failures: the metric keeps its last good value for SIGNALS_STALE_POLLS
 *   poll intervals (at least SIGNALS_STALE_MIN_S seconds) after its last
 *   success, then is dropped (has_signal false: the planner holds the size) and
 *   the pool is poked. The busy set is never dropped on failures: a stale busy
 *   set errs on the side of protecting instances (DESIGN.md §4 rule 5). Before
 *   the first successful busy poll the set is unknown (signals_fill says so).
 * - Secrets are read through the callback on every poll (so a rotated secret
 *   is used at the next poll) and wiped after use; they are never logged. URLs
 *   are logged without their query string.
 * - Headers secret (headersSecretRef): one "Name: value" per line; empty lines
 *   and lines starting with '#' are skipped; '\r' before '\n' is dropped; at
 *   most SIGNALS_HEADERS_MAX headers, names are HTTP tokens, values have no
 *   control characters. A malformed secret fails the poll (the error names the
 *   line number, not the content).
 * - Responses: HTTP bodies over SIGNALS_BODY_MAX bytes fail the poll (the
 *   transfer is cut there: the body is streamed into a buffer of that size). A metric
 *   is a JSON number (a fraction is rounded down) or a string of digits, 0 ..
 *   10^15; negative values fail. A busy list is an array of at most
 *   SIGNALS_BUSY_MAX strings; every element must be an instance name
 *   ([A-Za-z0-9._-], 1..80 characters).
 * - Queue message bodies (busy): the text, trimmed, when it is an instance
 *   name; a body that is valid base64 (as the Azure SDKs and Functions encode
 *   messages) of an instance name yields that name. When a body is both (a
 *   name that is also base64 of a name, e.g. "dm0tMDAx"), both names are
 *   reported: the planner matches busy names against existing instance names
 *   only, so the extra one is inert. Other bodies are ignored.
 * - Peek sees at most 32 messages (Azure's limit). When a peek returns 32,
 *   the set may be incomplete: it becomes the union of the previous set and
 *   what was seen (instances stay protected), and no job_done is derived for
 *   names that were not seen. A later peek with fewer than 32 messages is
 *   exact again.
 * - job_done: a name in the previous busy set and not in the current one
 *   (both from successful polls) finished its job. Pending job_done names are
 *   handed over once by signals_fill and then forgotten; give them back with
 *   signals_job_done_return() when the plan that consumed them was not
 *   applied. At most SIGNALS_JOB_DONE_MAX per pool (oldest dropped), no
 *   duplicates.
 * - Poke: called (from the loop, never from inside a signals_* call) with the
 *   pool key "ns/name" when its metric value appears, changes or is dropped,
 *   or when its busy set or pending job_done change.
 * - Pools polled: those of want that are not being deleted; a deleted pool's
 *   pollers stop at the next signals_sync.
 *
 * Ownership: signals_new borrows loop, h and storage_cred (they must outlive
 * the struct signals; requests still in flight at signals_free complete into
 * orphaned pollers that free themselves, so h must also outlive them - free h
 * after signals). signals_sync copies what it needs from want. signals_fill
 * gives obs new strings (obs owns them; rc_observed_release frees them).
 * Single-threaded: everything runs on the loop thread.
 */
#ifndef AZPOOL_SIGNALS_H
#define AZPOOL_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "az_cred.h"
#include "http.h"
#include "rc_err.h"
#include "rc_model.h"
#include "rc_observed.h"

#define SIGNALS_DEFAULT_POLL_S 15
#define SIGNALS_TIMEOUT_MS     10000
#define SIGNALS_STALE_POLLS    4
#define SIGNALS_STALE_MIN_S    60
#define SIGNALS_BODY_MAX       (1024 * 1024)
#define SIGNALS_BUSY_MAX       10000
#define SIGNALS_JOB_DONE_MAX   1024
#define SIGNALS_HEADERS_MAX    16
#define SIGNALS_NAME_MAX       80
#define SIGNALS_METRIC_MAX     1000000000000000LL /* 10^15 */

/* Resolves a secret of namespace ns into a new string (*ret_value; the caller
 * wipes and frees it). 0 or a negative RC_E* code. Same shape as exec_secret_cb. */
typedef int (*signals_secret_cb)(void *arg, const char *ns, const char *name, const char *key,
                                 char **ret_value);
/* The signals of pool ("ns/name") changed: reconcile it. */
typedef void (*signals_poke_cb)(void *arg, const char *pool);

struct signals_opts {
    signals_secret_cb secret; /* NULL: sources with a secret reference fail */
    void *secret_arg;
    signals_poke_cb poke; /* may be NULL */
    void *poke_arg;
    int ms_per_second; /* length of a "second" of pollSeconds and the stale time;
                          0: 1000 (tests shorten it) */
    long timeout_ms;   /* per request; 0: SIGNALS_TIMEOUT_MS */
};

struct signals;

/* storage_cred may be NULL (queues without credentials then fail). NULL on
 * allocation failure. */
struct signals *signals_new(uv_loop_t *loop, struct http *h, struct az_cred *storage_cred,
                            const struct signals_opts *opts);
/* Stops everything; NULL is fine. The loop must run afterwards (a timer closes). */
void signals_free(struct signals *s);

/* Starts, stops and reconfigures pollers to match want (borrowed for the call).
 * A source whose configuration changed starts afresh (values dropped). 0 or
 * -RC_ENOMEM (pollers made so far are kept). */
int signals_sync(struct signals *s, const struct rc_desired *want);

/* Flags returned by signals_fill. */
#define SIGNALS_HAS_METRIC   1 /* the pool has a polled metric (has_signal may still be false) */
#define SIGNALS_HAS_BUSY     2 /* the pool has a polled busy source */
#define SIGNALS_BUSY_UNKNOWN 4 /* ... which has never been read successfully */

/* Copies the latest values of pool into obs: has_signal/signal (when a metric
 * is polled), busy[] (replaced, when a busy source is polled), job_done[]
 * (appended; consumed here). Returns the SIGNALS_* flags (0: nothing polled
 * for this pool, obs untouched) or -RC_ENOMEM. */
int signals_fill(struct signals *s, const char *pool, struct rc_obs_pool *obs);
/* Gives back job_done names that signals_fill handed out but that were not
 * acted on (the reconcile failed before its plan was applied). */
int signals_job_done_return(struct signals *s, const char *pool, char *const *names, size_t n);
/* Polls the pool's sources now (when not in flight). */
void signals_poll_now(struct signals *s, const char *pool);
/* Number of sources polled (tests, metrics). */
size_t signals_count(const struct signals *s);

/* ---- pure helpers (exported for tests) ---- */

/* RFC 6901: the value at ptr in doc ("" is doc itself; "~1" is '/', "~0" is
 * '~'; array indexes are decimal without leading zeros, "-" never resolves).
 * *ret is borrowed from doc. -RC_EINVAL (bad pointer syntax) or -RC_ENOTFOUND. */
int signals_json_pointer(const json_t *doc, const char *ptr, const json_t **ret,
                         struct rc_err *err);
/* A metric from a JSON value (see the top). */
int signals_metric_value(const json_t *v, int64_t *ret, struct rc_err *err);
/* Parses a headers secret into "Name: value" lines (new strings; free each and
 * the array). */
int signals_parse_headers(const char *text, char ***ret, size_t *ret_n, struct rc_err *err);
/* Instance names in a queue message body (see the top): 0, 1 or 2 names into
 * ret (each SIGNALS_NAME_MAX + 1 bytes); returns how many. */
int signals_message_names(const char *text, char ret[2][SIGNALS_NAME_MAX + 1]);
/* True when s is an instance name ([A-Za-z0-9._-], 1..SIGNALS_NAME_MAX). */
bool signals_name_ok(const char *s, size_t len);

#endif
