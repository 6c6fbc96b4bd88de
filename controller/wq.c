/*
 * wq.c - see wq.h.
 *
 * Keys live in an open-addressing hash table (linear probing, tombstones,
 * grown at 70% load). Queued keys are also in a binary min-heap ordered by
 * (due, seq), each entry remembering its heap index so a reschedule is
 * O(log n).
 */
#include "wq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rc_err.h"
#include "rc_util.h"

enum wq_state { WQ_IDLE = 0, WQ_QUEUED, WQ_ACTIVE };

struct wq_entry {
    char *key;
    uint64_t hash;
    enum wq_state state;
    bool dirty;      /* added while active */
    bool removed;    /* wq_remove while active */
    int64_t due_ms;  /* when queued */
    uint64_t seq;    /* FIFO among equal due times */
    size_t heap_idx; /* when queued */
    int failures;
};

#define TOMBSTONE ((struct wq_entry *)1)

struct wq {
    struct wq_entry **slots;
    size_t cap, used, live; /* used counts tombstones too */
    struct wq_entry **heap;
    size_t n_heap, cap_heap;
    size_t n_active;
    uint64_t seq;
    int64_t base_ms, max_ms;
    double qps, tokens;
    int burst;
    int64_t bucket_ms; /* time of the last refill */
};

struct wq *wq_new(int64_t base_delay_ms, int64_t max_delay_ms, double qps, int burst)
{
    struct wq *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->cap = 64;
    q->slots = calloc(q->cap, sizeof(*q->slots));
    if (!q->slots) {
        free(q);
        return NULL;
    }
    q->base_ms = base_delay_ms > 0 ? base_delay_ms : 1;
    q->max_ms = max_delay_ms > q->base_ms ? max_delay_ms : q->base_ms;
    q->qps = qps;
    q->burst = burst > 0 ? burst : 1;
    q->tokens = q->burst;
    q->bucket_ms = -1;
    return q;
}

static void entry_free(struct wq_entry *e)
{
    if (e && e != TOMBSTONE) {
        free(e->key);
        free(e);
    }
}

void wq_free(struct wq *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->cap; i++)
        entry_free(q->slots[i]);
    free(q->slots);
    free(q->heap);
    free(q);
}

/* ---- hash table ---- */

static struct wq_entry *lookup(const struct wq *q, const char *key, uint64_t h)
{
    size_t mask = q->cap - 1;

    for (size_t i = h & mask, n = 0; n < q->cap; i = (i + 1) & mask, n++) {
        struct wq_entry *e = q->slots[i];

        if (!e)
            return NULL;
        if (e != TOMBSTONE && e->hash == h && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static void place(struct wq_entry **slots, size_t cap, struct wq_entry *e)
{
    size_t mask = cap - 1;
    size_t i = e->hash & mask;

    while (slots[i] && slots[i] != TOMBSTONE)
        i = (i + 1) & mask;
    slots[i] = e;
}

static int grow(struct wq *q)
{
    size_t cap = q->live * 2 >= q->cap ? q->cap * 2 : q->cap; /* else: just drop tombstones */
    struct wq_entry **slots = calloc(cap, sizeof(*slots));

    if (!slots)
        return -RC_ENOMEM;
    for (size_t i = 0; i < q->cap; i++)
        if (q->slots[i] && q->slots[i] != TOMBSTONE)
            place(slots, cap, q->slots[i]);
    free(q->slots);
    q->slots = slots;
    q->cap = cap;
    q->used = q->live;
    return 0;
}

static struct wq_entry *intern(struct wq *q, const char *key)
{
    uint64_t h = rc_hash64_str(key);
    struct wq_entry *e = lookup(q, key, h);

    if (e)
        return e;
    if ((q->used + 1) * 10 > q->cap * 7 && grow(q) < 0)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return NULL;
    }
    e->hash = h;
    place(q->slots, q->cap, e);
    q->used++;
    q->live++;
    return e;
}

static void drop(struct wq *q, struct wq_entry *e)
{
    size_t mask = q->cap - 1;

    for (size_t i = e->hash & mask;; i = (i + 1) & mask) {
        if (q->slots[i] == e) {
            q->slots[i] = TOMBSTONE;
            break;
        }
    }
    q->live--;
    entry_free(e);
}

/* ---- heap ---- */

static bool before(const struct wq_entry *a, const struct wq_entry *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_set(struct wq *q, size_t i, struct wq_entry *e)
{
    q->heap[i] = e;
    e->heap_idx = i;
}

static void sift_up(struct wq *q, size_t i)
{
    struct wq_entry *e = q->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!before(e, q->heap[parent]))
            break;
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, e);
}

static void sift_down(struct wq *q, size_t i)
{
    struct wq_entry *e = q->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct wq_entry *best = e;

        if (l < q->n_heap && before(q->heap[l], best)) {
            m = l;
            best = q->heap[l];
        }
        if (r < q->n_heap && before(q->heap[r], best))
            m = r;
        if (m == i)
            break;
        heap_set(q, i, q->heap[m]);
        i = m;
    }
    heap_set(q, i, e);
}

static int heap_push(struct wq *q, struct wq_entry *e)
{
    if (q->n_heap == q->cap_heap) {
        size_t cap = q->cap_heap ? q->cap_heap * 2 : 16;
        struct wq_entry **v = realloc(q->heap, cap * sizeof(*v));

        if (!v)
            return -RC_ENOMEM;
        q->heap = v;
        q->cap_heap = cap;
    }
    heap_set(q, q->n_heap++, e);
    sift_up(q, e->heap_idx);
    return 0;
}

static void heap_remove(struct wq *q, struct wq_entry *e)
{
    size_t i = e->heap_idx;
    struct wq_entry *last = q->heap[--q->n_heap];

    if (i == q->n_heap)
        return;
    heap_set(q, i, last);
    sift_up(q, i);
    sift_down(q, last->heap_idx);
}

/* ---- queue operations ---- */

static int schedule(struct wq *q, struct wq_entry *e, int64_t at_ms)
{
    if (e->state == WQ_QUEUED) {
        if (at_ms < e->due_ms) {
            e->due_ms = at_ms;
            sift_up(q, e->heap_idx);
        }
        return 0;
    }
    e->state = WQ_QUEUED;
    e->due_ms = at_ms;
    e->seq = q->seq++;
    if (heap_push(q, e) < 0) {
        e->state = WQ_IDLE;
        return -RC_ENOMEM;
    }
    return 0;
}

int wq_add_at(struct wq *q, const char *key, int64_t at_ms)
{
    struct wq_entry *e;
    size_t len = key ? strlen(key) : 0;

    if (len == 0 || len > WQ_KEY_MAX)
        return -RC_EINVAL;
    e = intern(q, key);
    if (!e)
        return -RC_ENOMEM;
    e->removed = false;
    if (e->state == WQ_ACTIVE) {
        /* Level-triggered: one more pass after the current one, at the earliest
         * of the requested times. */
        if (!e->dirty || at_ms < e->due_ms)
            e->due_ms = at_ms;
        e->dirty = true;
        return 0;
    }
    return schedule(q, e, at_ms);
}

int wq_add(struct wq *q, const char *key, int64_t now_ms)
{
    return wq_add_at(q, key, now_ms);
}

int wq_next(struct wq *q, int64_t now_ms, const char **ret_key)
{
    struct wq_entry *e;

    if (q->n_heap == 0 || q->heap[0]->due_ms > now_ms)
        return 0;
    e = q->heap[0];
    heap_remove(q, e);
    e->state = WQ_ACTIVE;
    e->dirty = false;
    q->n_active++;
    *ret_key = e->key;
    return 1;
}

static struct wq_entry *active_entry(struct wq *q, const char *key)
{
    struct wq_entry *e = lookup(q, key, rc_hash64_str(key));

    return e && e->state == WQ_ACTIVE ? e : NULL;
}

static void finish(struct wq *q, struct wq_entry *e, int64_t requeue_at, bool requeue)
{
    bool dirty = e->dirty;
    int64_t dirty_at = e->due_ms;

    e->state = WQ_IDLE;
    e->dirty = false;
    q->n_active--;
    if (e->removed) {
        drop(q, e);
        return;
    }
    if (dirty && (!requeue || dirty_at < requeue_at)) {
        requeue = true;
        requeue_at = dirty_at;
    }
    if (requeue)
        schedule(q, e, requeue_at);
    else if (e->failures == 0)
        drop(q, e); /* nothing to remember: keep the table small */
}

void wq_done(struct wq *q, const char *key, int64_t now_ms)
{
    struct wq_entry *e = active_entry(q, key);

    if (e)
        finish(q, e, now_ms, false);
}

/* Global bucket: the time at which a retry may run, consuming one token. */
static int64_t bucket_take(struct wq *q, int64_t now_ms)
{
    double wait_s;

    if (q->qps <= 0)
        return now_ms;
    if (q->bucket_ms < 0)
        q->bucket_ms = now_ms;
    if (now_ms > q->bucket_ms) {
        q->tokens += (double)(now_ms - q->bucket_ms) / 1000.0 * q->qps;
        if (q->tokens > q->burst)
            q->tokens = q->burst;
        q->bucket_ms = now_ms;
    }
    q->tokens -= 1.0;
    if (q->tokens >= 0)
        return now_ms;
    wait_s = -q->tokens / q->qps;
    return now_ms + (int64_t)(wait_s * 1000.0 + 0.999);
}

void wq_retry(struct wq *q, const char *key, int64_t now_ms)
{
    struct wq_entry *e = active_entry(q, key);
    int64_t delay, at, bucket_at;

    if (!e)
        return;
    delay = q->base_ms;
    for (int i = 0; i < e->failures && delay < q->max_ms; i++)
        delay *= 2;
    if (delay > q->max_ms)
        delay = q->max_ms;
    if (e->failures < 64)
        e->failures++;
    at = now_ms + delay;
    bucket_at = bucket_take(q, now_ms);
    if (bucket_at > at)
        at = bucket_at;
    /* A retry is not hurried by a dirty mark: the failure's backoff stands. */
    e->dirty = false;
    finish(q, e, at, true);
}

void wq_forget(struct wq *q, const char *key)
{
    struct wq_entry *e = lookup(q, key, rc_hash64_str(key));

    if (!e)
        return;
    e->failures = 0;
    if (e->state == WQ_IDLE)
        drop(q, e);
}

void wq_remove(struct wq *q, const char *key)
{
    struct wq_entry *e = lookup(q, key, rc_hash64_str(key));

    if (!e)
        return;
    if (e->state == WQ_ACTIVE) {
        e->removed = true;
        e->dirty = false;
        return;
    }
    if (e->state == WQ_QUEUED)
        heap_remove(q, e);
    drop(q, e);
}

size_t wq_depth(const struct wq *q)
{
    return q->n_heap;
}

size_t wq_active(const struct wq *q)
{
    return q->n_active;
}

int64_t wq_next_due(const struct wq *q)
{
    return q->n_heap ? q->heap[0]->due_ms : INT64_MAX;
}

int wq_failures(const struct wq *q, const char *key)
{
    const struct wq_entry *e = lookup(q, key, rc_hash64_str(key));

    return e ? e->failures : 0;
}
