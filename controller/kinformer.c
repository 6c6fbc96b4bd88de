/*
 * kinformer.c - see kinformer.h.
 *
 * Memory: the informer is reference counted so that kinformer_free() can be
 * called while a list request is in flight (kube_request has no cancel) and
 * while the backoff timer handle is closing: one reference for the owner,
 * one per in-flight list request, one while the timer handle is open.
 */
#include "kinformer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#define RV_MAX    64
#define PATH_MAX_ 4096

enum phase { PH_IDLE = 0, PH_LISTING, PH_WATCHING, PH_BACKOFF };

struct kinformer {
    struct kube *k;
    uv_loop_t *loop;
    char *path, *label_selector, *field_selector;
    struct kinformer_opts o;
    json_t *cache;   /* "ns/name" -> object */
    json_t *pending; /* the list being paged in, "ns/name" -> object */
    char rv[RV_MAX];
    char list_rv[RV_MAX];
    char *cont; /* continue token of the list being paged in */
    enum phase phase;
    bool synced;
    bool dead;        /* kinformer_free() was called */
    bool relist_next; /* after the backoff: list (true) or watch (false) */
    struct kube_watch *watch;
    uint64_t watch_started; /* uv_now() */
    uint64_t watch_events;  /* events of the current watch */
    uv_timer_t timer;
    int refs;
    struct kinformer_stats stats;
};

/* ---- helpers ---- */

static uint64_t rng_next(void)
{
    static uint64_t s;

    if (!s) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
        if (!s)
            s = 0x9E3779B97F4A7C15ull;
    }
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
}

static void unref(struct kinformer *inf)
{
    if (--inf->refs > 0)
        return;
    json_decref(inf->cache);
    json_decref(inf->pending);
    free(inf->cont);
    free(inf->path);
    free(inf->label_selector);
    free(inf->field_selector);
    free(inf);
}

int kinformer_key(const json_t *obj, char *buf, size_t size)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    int n;

    if (!name || !name[0])
        return -RC_EINVAL;
    if (ns && ns[0])
        n = snprintf(buf, size, "%s/%s", ns, name);
    else
        n = snprintf(buf, size, "%s", name);
    return n < 0 || (size_t)n >= size ? -RC_EINVAL : 0;
}

static const char *obj_rv(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void set_rv(struct kinformer *inf, const char *rv)
{
    if (rv && rv[0])
        snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
}

static void start_list(struct kinformer *inf);
static void start_watch(struct kinformer *inf);

static void on_timer(uv_timer_t *t)
{
    struct kinformer *inf = t->data;

    if (inf->dead || inf->phase != PH_BACKOFF)
        return;
    if (inf->relist_next || !inf->rv[0])
        start_list(inf);
    else
        start_watch(inf);
}

/* A failure: wait, then list (relist true) or watch again. */
static void backoff(struct kinformer *inf, bool relist)
{
    int64_t base = inf->o.backoff_base_ms, cap = inf->o.backoff_max_ms, d = base;

    inf->stats.failures++;
    for (int i = 0; i < inf->stats.failures_in_row && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    inf->stats.failures_in_row++;
    d = d / 2 + (int64_t)(rng_next() % (uint64_t)(d / 2 + 1));
    inf->stats.last_backoff_ms = d;
    inf->phase = PH_BACKOFF;
    inf->relist_next = relist;
    uv_timer_start(&inf->timer, on_timer, (uint64_t)d, 0);
}

static void report(struct kinformer *inf, long status, const char *reason, const char *message)
{
    if (inf->o.on_error && !inf->dead)
        inf->o.on_error(inf->o.arg, inf->path, status, reason ? reason : "", message ? message : "",
                        inf->stats.failures_in_row + 1);
}

/* ---- applying changes ---- */

/* Sets cache[key] = obj (a new reference is taken) and delivers the change. */
static void apply_put(struct kinformer *inf, const char *key, json_t *obj)
{
    json_t *old = json_object_get(inf->cache, key);

    json_incref(old); /* keep it alive across the replacement */
    json_object_set(inf->cache, key, obj);
    inf->o.on_change(inf->o.arg, old, obj);
    json_decref(old);
}

static void apply_delete(struct kinformer *inf, const char *key)
{
    json_t *old = json_object_get(inf->cache, key);

    if (!old)
        return;
    json_incref(old);
    json_object_del(inf->cache, key);
    inf->o.on_change(inf->o.arg, old, NULL);
    json_decref(old);
}

/* The list is complete: deliver the differences, then synced. */
static void list_done(struct kinformer *inf)
{
    json_t *fresh = inf->pending, *obj, *gone;
    const char *key;
    void *tmp;

    inf->pending = NULL;
    json_object_foreach(fresh, key, obj)
    {
        const json_t *old = json_object_get(inf->cache, key);
        const char *orv = old ? obj_rv(old) : NULL, *nrv = obj_rv(obj);

        if (old && orv && nrv && strcmp(orv, nrv) == 0)
            continue; /* unchanged */
        apply_put(inf, key, obj);
        if (inf->dead)
            break;
    }
    gone = json_array();
    if (gone && !inf->dead) {
        json_object_foreach_safe(inf->cache, tmp, key, obj) if (!json_object_get(fresh, key))
            json_array_append_new(gone, json_string(key));
        for (size_t i = 0; i < json_array_size(gone) && !inf->dead; i++)
            apply_delete(inf, json_string_value(json_array_get(gone, i)));
    }
    json_decref(gone);
    json_decref(fresh);
    snprintf(inf->rv, sizeof(inf->rv), "%s", inf->list_rv);
    inf->stats.lists++;
    inf->stats.failures_in_row = 0;
    inf->synced = true;
    if (inf->dead)
        return;
    if (inf->o.on_synced)
        inf->o.on_synced(inf->o.arg);
    if (!inf->dead)
        start_watch(inf);
}

/* ---- list ---- */

static void send_page(struct kinformer *inf);

static void on_page(void *arg, const struct kube_response *r)
{
    struct kinformer *inf = arg;
    const json_t *items, *md, *it;
    const char *cont, *rv;
    size_t i;

    bool dead = inf->dead;

    unref(inf); /* the request's reference */
    if (dead)
        return; /* inf may be gone */
    if (r->status == 410 && inf->cont) {
        /* the continue token expired: start the list over */
        json_decref(inf->pending);
        inf->pending = NULL;
        free(inf->cont);
        inf->cont = NULL;
        start_list(inf);
        return;
    }
    items = r->body ? json_object_get(r->body, "items") : NULL;
    md = r->body ? json_object_get(r->body, "metadata") : NULL;
    if (r->status != 200 || !json_is_array(items))
        goto fail;
    if (!inf->cont) {
        rv = json_string_value(json_object_get(md, "resourceVersion"));
        snprintf(inf->list_rv, sizeof(inf->list_rv), "%s", rv ? rv : "");
    }
    json_array_foreach(items, i, it)
    {
        char key[600];

        if (kinformer_key(it, key, sizeof(key)) < 0)
            continue;
        if (json_object_size(inf->pending) >= KINF_OBJECTS_MAX)
            goto fail;
        json_object_set(inf->pending, key, (json_t *)it);
    }
    free(inf->cont);
    inf->cont = NULL;
    cont = json_string_value(json_object_get(md, "continue"));
    if (cont && cont[0]) {
        inf->cont = strdup(cont);
        if (!inf->cont)
            goto fail;
        send_page(inf);
        return;
    }
    list_done(inf);
    return;
fail:
    json_decref(inf->pending);
    inf->pending = NULL;
    free(inf->cont);
    inf->cont = NULL;
    report(inf, r->status, r->reason,
           r->err.code ? r->message : "list response without items (or too many)");
    backoff(inf, true);
}

static void send_page(struct kinformer *inf)
{
    char path[PATH_MAX_];
    size_t len;
    int n = snprintf(path, sizeof(path), "%s?limit=%d", inf->path, KINF_PAGE);

    if (n < 0 || (size_t)n >= sizeof(path))
        goto fail;
    len = (size_t)n;
    if (inf->label_selector &&
        kube_append_param(path, sizeof(path), &len, "labelSelector", inf->label_selector) < 0)
        goto fail;
    if (inf->field_selector &&
        kube_append_param(path, sizeof(path), &len, "fieldSelector", inf->field_selector) < 0)
        goto fail;
    if (inf->cont && kube_append_param(path, sizeof(path), &len, "continue", inf->cont) < 0)
        goto fail;
    inf->refs++;
    if (kube_request(inf->k, "GET", path, NULL, NULL, on_page, inf) < 0) {
        inf->refs--;
        goto fail;
    }
    return;
fail:
    json_decref(inf->pending);
    inf->pending = NULL;
    free(inf->cont);
    inf->cont = NULL;
    backoff(inf, true);
}

static void start_list(struct kinformer *inf)
{
    inf->phase = PH_LISTING;
    json_decref(inf->pending);
    free(inf->cont);
    inf->cont = NULL;
    inf->pending = json_object();
    if (!inf->pending) {
        backoff(inf, true);
        return;
    }
    send_page(inf);
}

/* ---- watch ---- */

static void relist_now(struct kinformer *inf)
{
    inf->stats.relists++;
    start_list(inf);
}

static void on_event(void *arg, const char *type, const json_t *obj)
{
    struct kinformer *inf = arg;
    char key[600];

    if (inf->dead || inf->phase != PH_WATCHING)
        return;
    if (strcmp(type, "BOOKMARK") == 0) {
        inf->stats.bookmarks++;
        set_rv(inf, obj_rv(obj));
        return;
    }
    if (strcmp(type, "ERROR") == 0) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));

        kube_watch_stop(inf->watch);
        inf->watch = NULL;
        if (code == 410) {
            relist_now(inf);
        } else {
            /* e.g. 504 "Too large resource version": list again, consistently */
            report(inf, (long)code, json_string_value(json_object_get(obj, "reason")),
                   json_string_value(json_object_get(obj, "message")));
            inf->rv[0] = '\0';
            backoff(inf, true);
        }
        return;
    }
    if (kinformer_key(obj, key, sizeof(key)) < 0)
        return;
    inf->watch_events++;
    inf->stats.failures_in_row = 0;
    if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        const json_t *old = json_object_get(inf->cache, key);
        const char *orv = old ? obj_rv(old) : NULL, *nrv = obj_rv(obj);

        set_rv(inf, nrv);
        if (old && orv && nrv && strcmp(orv, nrv) == 0) {
            inf->stats.dropped++;
            return;
        }
        if (!old && json_object_size(inf->cache) >= KINF_OBJECTS_MAX) {
            inf->stats.dropped++;
            return;
        }
        inf->stats.events++;
        apply_put(inf, key, (json_t *)obj);
    } else if (strcmp(type, "DELETED") == 0) {
        set_rv(inf, obj_rv(obj));
        if (!json_object_get(inf->cache, key)) {
            inf->stats.dropped++;
            return;
        }
        inf->stats.events++;
        apply_delete(inf, key);
    }
}

static void on_watch_end(void *arg, const struct kube_response *r)
{
    struct kinformer *inf = arg;
    uint64_t lasted = uv_now(inf->loop) - inf->watch_started;

    inf->watch = NULL;
    if (inf->dead)
        return;
    if (r->status == 410) {
        relist_now(inf);
        return;
    }
    if (r->status == 200 && r->err.code == 0 && (lasted >= 1000 || inf->watch_events > 0)) {
        start_watch(inf); /* a normal end: from the last resourceVersion */
        return;
    }
    report(inf, r->status, r->reason, r->err.code ? r->message : "watch ended at once");
    backoff(inf, false);
}

static void start_watch(struct kinformer *inf)
{
    struct kube_watch_opts wo;
    int span = inf->o.watch_max_s - inf->o.watch_min_s;
    int r;

    memset(&wo, 0, sizeof(wo));
    wo.resource_version = inf->rv;
    wo.label_selector = inf->label_selector;
    wo.field_selector = inf->field_selector;
    wo.bookmarks = true;
    wo.timeout_s = inf->o.watch_min_s + (span > 0 ? (int)(rng_next() % (uint64_t)span) : 0);
    inf->phase = PH_WATCHING;
    inf->watch_events = 0;
    inf->watch_started = uv_now(inf->loop);
    inf->stats.watches++;
    r = kube_watch(inf->k, inf->path, &wo, on_event, on_watch_end, inf, &inf->watch);
    if (r < 0) {
        inf->watch = NULL;
        backoff(inf, false);
    }
}

/* ---- public ---- */

static char *dup_or_null(const char *s, bool *oom)
{
    char *p;

    if (!s || !s[0])
        return NULL;
    p = strdup(s);
    if (!p)
        *oom = true;
    return p;
}

struct kinformer *kinformer_new(struct kube *k, const struct kinformer_opts *opts)
{
    struct kinformer *inf;
    bool oom = false;

    if (!opts->path || opts->path[0] != '/' || !opts->on_change)
        return NULL;
    inf = calloc(1, sizeof(*inf));
    if (!inf)
        return NULL;
    inf->k = k;
    inf->o = *opts;
    if (inf->o.watch_min_s <= 0)
        inf->o.watch_min_s = 300;
    if (inf->o.watch_max_s < inf->o.watch_min_s)
        inf->o.watch_max_s = inf->o.watch_min_s == 300 ? 600 : inf->o.watch_min_s;
    if (inf->o.backoff_base_ms <= 0)
        inf->o.backoff_base_ms = 800;
    if (inf->o.backoff_max_ms < inf->o.backoff_base_ms)
        inf->o.backoff_max_ms = inf->o.backoff_base_ms > 30000 ? inf->o.backoff_base_ms : 30000;
    inf->path = dup_or_null(opts->path, &oom);
    inf->label_selector = dup_or_null(opts->label_selector, &oom);
    inf->field_selector = dup_or_null(opts->field_selector, &oom);
    inf->o.path = inf->path;
    inf->o.label_selector = inf->label_selector;
    inf->o.field_selector = inf->field_selector;
    inf->cache = json_object();
    inf->refs = 1;
    if (oom || !inf->cache) {
        unref(inf);
        return NULL;
    }
    return inf;
}

static void on_timer_closed(uv_handle_t *h)
{
    unref(h->data);
}

int kinformer_start(struct kinformer *inf)
{
    if (inf->phase != PH_IDLE || inf->loop)
        return -RC_EINVAL;
    inf->loop = kube_loop(inf->k);
    if (uv_timer_init(inf->loop, &inf->timer) != 0)
        return -RC_ENOMEM;
    inf->timer.data = inf;
    inf->refs++; /* the open timer handle */
    start_list(inf);
    return 0;
}

void kinformer_free(struct kinformer *inf)
{
    if (!inf)
        return;
    inf->dead = true;
    if (inf->watch) {
        kube_watch_stop(inf->watch);
        inf->watch = NULL;
    }
    if (inf->loop) {
        uv_timer_stop(&inf->timer);
        uv_close((uv_handle_t *)&inf->timer, on_timer_closed);
    }
    unref(inf);
}

bool kinformer_synced(const struct kinformer *inf)
{
    return inf->synced;
}

const json_t *kinformer_get(const struct kinformer *inf, const char *ns, const char *name)
{
    char key[600];

    if (ns && ns[0])
        snprintf(key, sizeof(key), "%s/%s", ns, name);
    else
        snprintf(key, sizeof(key), "%s", name);
    return json_object_get(inf->cache, key);
}

const json_t *kinformer_cache(const struct kinformer *inf)
{
    return inf->cache;
}

size_t kinformer_count(const struct kinformer *inf)
{
    return json_object_size(inf->cache);
}

const char *kinformer_resource_version(const struct kinformer *inf)
{
    return inf->rv;
}

const struct kinformer_stats *kinformer_stats(const struct kinformer *inf)
{
    return &inf->stats;
}
