/*
 * wq.h - level-triggered work queue of reconcile keys (DESIGN.md §3).
 *
 * A key ("WorkerPool/ops/runners") is queued at most once. While a key is being
 * processed it is not handed out again; wq_add() during processing marks it
 * dirty, and wq_done() requeues it. Backoff is per key (wq_retry: base doubling
 * up to max) combined with a global token bucket (retries of all keys together
 * at most `qps` per second after a burst), the larger delay wins; it resets on
 * wq_forget. wq_add_at() schedules a key for a later time (Retry-After, a
 * maintenance window opening); an earlier schedule always wins over a later one.
 *
 * Ownership: wq_add*() copy the key. The queue never calls back into the
 * caller; the loop asks wq_next_due() when to wake up. Times are passed in
 * (ms), so the queue is deterministic and testable.
 * Not thread-safe: everything runs on the loop thread.
 */
#ifndef AZPOOL_WQ_H
#define AZPOOL_WQ_H

#include <stddef.h>
#include <stdint.h>

struct wq;

#define WQ_KEY_MAX 512

/* base/max delay for per-key backoff (DESIGN: 5 ms -> 5 min); qps/burst of the
 * global retry bucket (0 qps: no global limit). NULL on allocation failure. */
struct wq *wq_new(int64_t base_delay_ms, int64_t max_delay_ms, double qps, int burst);
void wq_free(struct wq *q); /* NULL is fine */

/* Queue key, due now. Returns 0, -RC_EINVAL (empty or longer than WQ_KEY_MAX)
 * or -RC_ENOMEM. */
int wq_add(struct wq *q, const char *key, int64_t now_ms);
/* Queue key, due at at_ms (or earlier if it is already queued earlier). */
int wq_add_at(struct wq *q, const char *key, int64_t at_ms);
/* Returns 1 and a borrowed key valid until wq_done(), or 0 if nothing is due at now_ms. */
int wq_next(struct wq *q, int64_t now_ms, const char **ret_key);
/* Processing of key finished; requeues it (due now) when it was added meanwhile. */
void wq_done(struct wq *q, const char *key, int64_t now_ms);
/* Processing failed: requeue after the backoff. Call instead of wq_done(). */
void wq_retry(struct wq *q, const char *key, int64_t now_ms);
/* Success: reset the key's backoff. */
void wq_forget(struct wq *q, const char *key);
/* Drops a key entirely (its object is gone); a key being processed is dropped
 * at wq_done(). */
void wq_remove(struct wq *q, const char *key);

/* Keys queued (due or not), not counting those being processed. */
size_t wq_depth(const struct wq *q);
/* Keys being processed. */
size_t wq_active(const struct wq *q);
/* Earliest due time of a queued key, INT64_MAX when none. */
int64_t wq_next_due(const struct wq *q);
/* Consecutive failures of key (0 when unknown). */
int wq_failures(const struct wq *q, const char *key);

#endif
