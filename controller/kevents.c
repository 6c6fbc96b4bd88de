/* kevents.c - Kubernetes Event recorder with aggregation, dedup and a spam filter (see
 * kevents.h). */
#include "kevents.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstatus.h"
#include "log.h"
#include "rc_err.h"
#include "rc_util.h"

#define COMBINED_PREFIX "(combined from similar events): "
#define SEP             "\x1f" /* between key parts: never in names, kinds or reasons */
#define INSTANCE_MAX    128
#define COMPONENT_MAX   128

/* ---- a small LRU of string keys (hash chains + recency list) ---- */

struct lru_ent {
    char *key;
    uint64_t hash;
    struct lru_ent *hnext;
    struct lru_ent *prev, *next; /* recency: head.next is the most recent */
};

typedef bool (*lru_pinned_cb)(const struct lru_ent *e);

struct lru {
    struct lru_ent **tab;
    size_t nbuckets; /* power of two */
    size_t n, max;
    struct lru_ent head;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int lru_init(struct lru *l, size_t max)
{
    size_t nb = 16;

    while (nb < max)
        nb <<= 1;
    memset(l, 0, sizeof(*l));
    l->tab = calloc(nb, sizeof(*l->tab));
    if (!l->tab)
        return -RC_ENOMEM;
    l->nbuckets = nb;
    l->max = max;
    l->head.prev = l->head.next = &l->head;
    return 0;
}

static void list_unlink(struct lru_ent *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = e;
}

static void list_push_front(struct lru *l, struct lru_ent *e)
{
    e->next = l->head.next;
    e->prev = &l->head;
    l->head.next->prev = e;
    l->head.next = e;
}

/* The entry of key (moved to the front), or NULL. */
static struct lru_ent *lru_find(struct lru *l, const char *key)
{
    uint64_t h = hash_str(key);
    struct lru_ent *e;

    for (e = l->tab[h & (l->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->key, key) == 0) {
            list_unlink(e);
            list_push_front(l, e);
            return e;
        }
    return NULL;
}

/* Adds e (e->key set; the key must not be present). */
static void lru_insert(struct lru *l, struct lru_ent *e)
{
    size_t b;

    e->hash = hash_str(e->key);
    b = e->hash & (l->nbuckets - 1);
    e->hnext = l->tab[b];
    l->tab[b] = e;
    list_push_front(l, e);
    l->n++;
}

static void lru_remove(struct lru *l, struct lru_ent *e)
{
    struct lru_ent **pp = &l->tab[e->hash & (l->nbuckets - 1)];

    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    list_unlink(e);
    l->n--;
}

/* The least recently used entry that is not pinned, or NULL. */
static struct lru_ent *lru_victim(struct lru *l, lru_pinned_cb pinned)
{
    for (struct lru_ent *e = l->head.prev; e != &l->head; e = e->prev)
        if (!pinned || !pinned(e))
            return e;
    return NULL;
}

/* ---- the recorder ---- */

struct ticket;

struct ev {              /* one Event object (dedup cache entry) */
    struct lru_ent e;    /* first: the cache holds &ev->e */
    char *objkey;        /* spam-filter key of the involved object */
    json_t *event;       /* the Event as it is POSTed (count, lastTimestamp, message current) */
    int64_t count;       /* occurrences */
    int64_t last_ms;     /* last occurrence */
    bool exists;         /* created on the server */
    bool dirty;          /* an occurrence arrived during the write in flight */
    int attempts;        /* failed attempts of the current write */
    int64_t retry_at;    /* loop time of the retry; 0: none */
    struct ev *rnext;    /* retry list */
    struct ticket *busy; /* the write in flight, or NULL */
};

struct agg { /* similar events of one (object, type, reason) */
    struct lru_ent e;
    int64_t last_ms;
    uint64_t msgs[KEVENTS_SIMILAR_MAX]; /* hashes of the distinct messages in the window */
    int n;
};

struct spam { /* token bucket of one object */
    struct lru_ent e;
    double tokens;
    int64_t last_ms;
};

struct ticket {        /* one request in flight; outlives the recorder if need be */
    struct kevents *r; /* NULL once the recorder is gone */
    struct ev *v;
    bool patch;
};

struct kevents {
    uv_loop_t *loop;
    struct kube *k;
    char *component, *instance;
    struct lru events, aggs, spams;
    struct ev *retries;
    uv_timer_t *timer;
    size_t pending;
    uint64_t seq;
    int64_t now_ms; /* latest wall clock given to kevents_record */
    struct kevents_stats stats;
};

static bool ev_pinned(const struct lru_ent *e)
{
    const struct ev *v = (const struct ev *)e;

    return v->busy || v->retry_at;
}

static void ev_free(struct ev *v)
{
    if (!v)
        return;
    free(v->e.key);
    free(v->objkey);
    json_decref(v->event);
    free(v);
}

static void plain_free(struct lru_ent *e)
{
    if (!e)
        return;
    free(e->key);
    free(e);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

struct kevents *kevents_new(uv_loop_t *loop, struct kube *k, const char *component,
                            const char *instance)
{
    struct kevents *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->loop = loop;
    r->k = k;
    r->component = strndup(component && *component ? component : "azpool", COMPONENT_MAX);
    r->instance = strndup(instance ? instance : "", INSTANCE_MAX);
    r->timer = malloc(sizeof(*r->timer));
    if (!r->component || !r->instance || !r->timer ||
        lru_init(&r->events, KEVENTS_CACHE_MAX) != 0 ||
        lru_init(&r->aggs, KEVENTS_CACHE_MAX) != 0 || lru_init(&r->spams, KEVENTS_CACHE_MAX) != 0) {
        free(r->timer);
        r->timer = NULL;
        kevents_free(r);
        return NULL;
    }
    uv_timer_init(loop, r->timer);
    r->timer->data = r;
    return r;
}

static void lru_release(struct lru *l, void (*free_ent)(struct lru_ent *))
{
    struct lru_ent *e, *next;

    if (!l->tab)
        return;
    for (e = l->head.next; e != &l->head; e = next) {
        next = e->next;
        free_ent(e);
    }
    free(l->tab);
    memset(l, 0, sizeof(*l));
}

static void ev_ent_free(struct lru_ent *e)
{
    struct ev *v = (struct ev *)e;

    if (v->busy)
        v->busy->r = NULL; /* its callback only frees the ticket */
    ev_free(v);
}

void kevents_free(struct kevents *r)
{
    if (!r)
        return;
    lru_release(&r->events, ev_ent_free);
    lru_release(&r->aggs, plain_free);
    lru_release(&r->spams, plain_free);
    if (r->timer) {
        uv_timer_stop(r->timer);
        r->timer->data = NULL;
        uv_close((uv_handle_t *)r->timer, on_timer_closed);
    }
    free(r->component);
    free(r->instance);
    free(r);
}

size_t kevents_pending(const struct kevents *r)
{
    return r ? r->pending : 0;
}

const struct kevents_stats *kevents_stats(const struct kevents *r)
{
    return &r->stats;
}

static json_t *time_json(int64_t ms)
{
    char buf[RC_TIME_MAX];

    rc_time_format(ms - ((ms % 1000) + 1000) % 1000, buf, sizeof(buf)); /* whole seconds */
    return json_string(buf);
}

static void log_drop(struct kevents *r, const struct ev *v, const char *why, long status,
                     const char *msg)
{
    struct log_line l;
    const json_t *io = json_object_get(v->event, "involvedObject");

    log_begin(&l, LOG_WARN, r->now_ms, "kevents.dropped");
    log_str(&l, "kind", json_string_value(json_object_get(io, "kind")));
    log_str(&l, "namespace", json_string_value(json_object_get(io, "namespace")));
    log_str(&l, "name", json_string_value(json_object_get(io, "name")));
    log_str(&l, "reason", json_string_value(json_object_get(v->event, "reason")));
    log_str(&l, "why", why);
    if (status)
        log_int(&l, "status", status);
    if (msg && *msg)
        log_str(&l, "err", msg);
    log_end(&l);
}

/* Takes a token of the object's bucket; false when it has none. */
static bool spam_allow(struct kevents *r, const char *objkey, int64_t now_ms)
{
    struct spam *s = (struct spam *)lru_find(&r->spams, objkey);

    if (!s) {
        if (r->spams.n >= r->spams.max) {
            struct lru_ent *victim = lru_victim(&r->spams, NULL);

            lru_remove(&r->spams, victim);
            plain_free(victim);
        }
        s = calloc(1, sizeof(*s));
        if (!s || !(s->e.key = strdup(objkey))) {
            free(s);
            return true; /* no memory for the filter: do not lose the event for it */
        }
        s->tokens = KEVENTS_BURST;
        s->last_ms = now_ms;
        lru_insert(&r->spams, &s->e);
    }
    if (now_ms > s->last_ms) {
        s->tokens += (double)(now_ms - s->last_ms) / KEVENTS_REFILL_MS;
        if (s->tokens > KEVENTS_BURST)
            s->tokens = KEVENTS_BURST;
        s->last_ms = now_ms;
    }
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}

static void on_write(void *arg, const struct kube_response *resp);
static void arm_timer(struct kevents *r);

/* Issues the write of v's current state (POST when not on the server yet, else PATCH). */
static void ev_write(struct kevents *r, struct ev *v)
{
    struct ticket *t = malloc(sizeof(*t));
    const char *ns =
        json_string_value(json_object_get(json_object_get(v->event, "metadata"), "namespace"));
    const char *name =
        json_string_value(json_object_get(json_object_get(v->event, "metadata"), "name"));
    char path[700];
    int rc;

    v->dirty = false;
    if (!t) {
        r->stats.dropped++;
        log_drop(r, v, "no memory", 0, NULL);
        return;
    }
    *t = (struct ticket){r, v, v->exists};
    if (v->exists) {
        json_t *patch = json_pack("{s:I,s:O,s:O}", "count", (json_int_t)v->count, "lastTimestamp",
                                  json_object_get(v->event, "lastTimestamp"), "message",
                                  json_object_get(v->event, "message"));

        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, name);
        rc = patch ? kube_request_json(r->k, "PATCH", path, "application/merge-patch+json", patch,
                                       on_write, t)
                   : -RC_ENOMEM;
        json_decref(patch);
    } else {
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
        rc = kube_request_json(r->k, "POST", path, NULL, v->event, on_write, t);
    }
    if (rc != 0) {
        free(t);
        r->stats.dropped++;
        log_drop(r, v, "request refused", 0, NULL);
        return;
    }
    v->busy = t;
    r->pending++;
}

static void on_write(void *arg, const struct kube_response *resp)
{
    struct ticket *t = arg;
    struct kevents *r = t->r;
    struct ev *v = t->v;
    bool patch = t->patch;

    free(t);
    if (!r)
        return; /* the recorder is gone */
    v->busy = NULL;
    r->pending--;
    if (resp->err.code == 0) {
        if (patch)
            r->stats.patched++;
        else
            r->stats.created++;
        v->exists = true;
        v->attempts = 0;
        if (v->dirty) {
            v->dirty = false;
            if (spam_allow(r, v->objkey, r->now_ms))
                ev_write(r, v);
            else
                r->stats.spam_skips++;
        }
        return;
    }
    /* PATCH 404: the Event expired on the server; POST 409: it exists already (a lost
     * response or an equal name). Bounded like the transient retries. */
    if (++v->attempts <= KEVENTS_RETRIES + 1) {
        if (patch && resp->status == 404) {
            v->exists = false;
            ev_write(r, v);
            return;
        }
        if (!patch && resp->status == 409 && strcmp(resp->reason, "AlreadyExists") == 0) {
            v->exists = true;
            ev_write(r, v);
            return;
        }
    }
    if (resp->err.code == -RC_ETRANSIENT && v->attempts <= KEVENTS_RETRIES) {
        v->retry_at = (int64_t)uv_now(r->loop) + (1000LL << (v->attempts - 1));
        v->rnext = r->retries;
        r->retries = v;
        r->pending++;
        r->stats.retries++;
        arm_timer(r);
        return;
    }
    r->stats.dropped++;
    log_drop(r, v, "write failed", resp->status, resp->message);
    v->attempts = 0;
    v->dirty = false;
}

static void on_timer(uv_timer_t *h)
{
    struct kevents *r = h->data;
    struct ev **pp, *v, *due = NULL;
    int64_t now;

    if (!r)
        return;
    now = (int64_t)uv_now(r->loop);
    for (pp = &r->retries; (v = *pp) != NULL;) {
        if (v->retry_at <= now) {
            *pp = v->rnext;
            v->rnext = due;
            due = v;
        } else {
            pp = &v->rnext;
        }
    }
    while ((v = due) != NULL) {
        due = v->rnext;
        v->rnext = NULL;
        v->retry_at = 0;
        r->pending--;
        ev_write(r, v);
    }
    arm_timer(r);
}

static void arm_timer(struct kevents *r)
{
    int64_t first = INT64_MAX, now = (int64_t)uv_now(r->loop);

    for (struct ev *v = r->retries; v; v = v->rnext)
        if (v->retry_at < first)
            first = v->retry_at;
    if (first == INT64_MAX) {
        uv_timer_stop(r->timer);
        return;
    }
    uv_timer_start(r->timer, on_timer, (uint64_t)(first > now ? first - now : 0), 0);
}

/* Bytes of s that fit in max, cut on a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static bool field_ok(const char *s, bool required)
{
    if (!s || !*s)
        return !required;
    return strnlen(s, KEVENTS_FIELD_MAX + 1) <= KEVENTS_FIELD_MAX && !strstr(s, SEP);
}

/* The Event name "<object name>.<hex unix nanos>" (the object part cut so that the whole
 * stays a DNS-1123 subdomain of at most 253). */
static void event_name(struct kevents *r, const char *objname, int64_t now_ms, char *buf,
                       size_t size)
{
    uint64_t nanos = (uint64_t)now_ms * 1000000u + (r->seq++ % 1000000u);
    int n = (int)strnlen(objname, 253 - 17);

    while (n > 0 && (objname[n - 1] == '.' || objname[n - 1] == '-'))
        n--;
    snprintf(buf, size, "%.*s.%llx", n, objname, (unsigned long long)nanos);
}

static json_t *build_event(struct kevents *r, const struct kevents_ref *o, const char *ns,
                           const char *name, enum kevents_type type, const char *reason,
                           int64_t now_ms)
{
    json_t *io =
        json_pack("{s:s,s:s,s:s}", "apiVersion", o->api_version, "kind", o->kind, "name", o->name);

    if (!io)
        return NULL;
    if (o->namespace && *o->namespace)
        json_object_set_new(io, "namespace", json_string(o->namespace));
    if (o->uid && *o->uid)
        json_object_set_new(io, "uid", json_string(o->uid));
    if (o->resource_version && *o->resource_version)
        json_object_set_new(io, "resourceVersion", json_string(o->resource_version));
    return json_pack(
        "{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:{s:s},s:o,s:o,s:I,s:s,s:s}", "apiVersion", "v1", "kind",
        "Event", "metadata", "name", name, "namespace", ns, "involvedObject", io, "reason", reason,
        "type", type == KEVENTS_WARNING ? "Warning" : "Normal", "source", "component", r->component,
        "firstTimestamp", time_json(now_ms), "lastTimestamp", time_json(now_ms), "count",
        (json_int_t)1, "reportingComponent", r->component, "reportingInstance", r->instance);
}

/* Similar-event aggregation: 1 when this occurrence is to be combined. */
static int aggregate(struct kevents *r, const char *akey, const char *message, int64_t now_ms)
{
    struct agg *a = (struct agg *)lru_find(&r->aggs, akey);
    uint64_t h = hash_str(message);
    int i;

    if (!a) {
        if (r->aggs.n >= r->aggs.max) {
            struct lru_ent *victim = lru_victim(&r->aggs, NULL);

            lru_remove(&r->aggs, victim);
            plain_free(victim);
        }
        a = calloc(1, sizeof(*a));
        if (!a || !(a->e.key = strdup(akey))) {
            free(a);
            return -RC_ENOMEM;
        }
        lru_insert(&r->aggs, &a->e);
    }
    if (a->n && a->last_ms + KEVENTS_WINDOW_MS < now_ms)
        a->n = 0; /* the window passed: start over */
    a->last_ms = now_ms;
    for (i = 0; i < a->n; i++)
        if (a->msgs[i] == h)
            return 0;
    a->msgs[a->n++] = h;
    if (a->n < KEVENTS_SIMILAR_MAX)
        return 0;
    a->n--; /* client-go's PopAny: keep the set below the limit */
    return 1;
}

int kevents_record(struct kevents *r, const struct kevents_ref *o, enum kevents_type type,
                   const char *reason, const char *message, int64_t now_ms)
{
    /* five fields (apiVersion, kind, namespace, name, uid): a shorter buffer cut the uid of
     * long refs, so two objects shared one dedup key and spam bucket */
    char objkey[5 * (KEVENTS_FIELD_MAX + 1) + 8], akey[sizeof(objkey) + KEVENTS_FIELD_MAX + 16];
    char msg[sizeof(COMBINED_PREFIX) + KEVENTS_MESSAGE_MAX];
    char *key = NULL;
    const char *ns;
    struct ev *v;
    size_t mlen, klen;
    int combined, rc;

    if (!r || !o || !field_ok(o->api_version, true) || !field_ok(o->kind, true) ||
        !field_ok(o->name, true) || !field_ok(o->namespace, false) || !field_ok(o->uid, false) ||
        !field_ok(o->resource_version, false) || !field_ok(reason, true))
        return -RC_EINVAL;
    if (!message)
        message = "";
    if (now_ms > r->now_ms)
        r->now_ms = now_ms;
    ns = o->namespace && *o->namespace ? o->namespace : "default";
    snprintf(objkey, sizeof(objkey), "%s" SEP "%s" SEP "%s" SEP "%s" SEP "%s", o->api_version,
             o->kind, ns, o->name, o->uid ? o->uid : "");
    snprintf(akey, sizeof(akey), "%s" SEP "%s" SEP "%s", objkey,
             type == KEVENTS_WARNING ? "Warning" : "Normal", reason);

    combined = aggregate(r, akey, message, now_ms);
    if (combined < 0)
        return combined;
    mlen = utf8_cut(message, KEVENTS_MESSAGE_MAX - (combined ? strlen(COMBINED_PREFIX) : 0));
    snprintf(msg, sizeof(msg), "%s%.*s", combined ? COMBINED_PREFIX : "", (int)mlen, message);
    /* the dedup key: the combined Event is one per aggregate key */
    klen = strlen(akey) + strlen(msg) + 3;
    key = malloc(klen);
    if (!key)
        return -RC_ENOMEM;
    snprintf(key, klen, "%s" SEP "%s", akey, combined ? "C" : "M");
    if (!combined)
        snprintf(key + strlen(key), klen - strlen(key), "%s", msg);
    if (combined)
        r->stats.combined++;

    v = (struct ev *)lru_find(&r->events, key);
    if (v && !ev_pinned(&v->e) && v->last_ms + KEVENTS_WINDOW_MS < now_ms) {
        /* the window passed: a new Event */
        lru_remove(&r->events, &v->e);
        ev_free(v);
        v = NULL;
    }
    if (!v) {
        char name[300];

        if (r->events.n >= r->events.max) {
            struct lru_ent *victim = lru_victim(&r->events, ev_pinned);

            if (!victim) {
                free(key);
                r->stats.dropped++;
                return -RC_ELIMIT;
            }
            lru_remove(&r->events, victim);
            ev_free((struct ev *)victim);
        }
        v = calloc(1, sizeof(*v));
        event_name(r, o->name, now_ms, name, sizeof(name));
        if (!v || !(v->objkey = strdup(objkey)) ||
            !(v->event = build_event(r, o, ns, name, type, reason, now_ms))) {
            free(key);
            ev_free(v);
            return -RC_ENOMEM;
        }
        v->e.key = key;
        key = NULL;
        lru_insert(&r->events, &v->e);
    }
    free(key);
    v->count++;
    v->last_ms = now_ms;
    rc = json_object_set_new(v->event, "count", json_integer((json_int_t)v->count));
    rc |= json_object_set_new(v->event, "lastTimestamp", time_json(now_ms));
    rc |= json_object_set_new(v->event, "message", kstatus_json_utf8(msg, strlen(msg)));
    if (rc != 0)
        return -RC_ENOMEM;
    r->stats.recorded++;
    if (v->busy) {
        v->dirty = true; /* folded into one PATCH after the write in flight */
        return 0;
    }
    if (v->retry_at)
        return 0; /* the retry writes the current state */
    if (!spam_allow(r, v->objkey, now_ms)) {
        r->stats.spam_skips++;
        return 1;
    }
    ev_write(r, v);
    return 0;
}

int kevents_recordf(struct kevents *r, const struct kevents_ref *obj, enum kevents_type type,
                    const char *reason, int64_t now_ms, const char *fmt, ...)
{
    char msg[KEVENTS_MESSAGE_MAX + 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    msg[utf8_cut(msg, KEVENTS_MESSAGE_MAX)] = '\0';
    return kevents_record(r, obj, type, reason, msg, now_ms);
}
