/* leader.c - leader election on a coordination.k8s.io/v1 Lease (see leader.h). */
#include "leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rc_err.h"
#include "rc_util.h"

/* ---- the pure part ---- */

const char *leader_decision_name(enum leader_decision d)
{
    switch (d) {
    case LEADER_FOLLOW:
        return "follow";
    case LEADER_CREATE:
        return "create";
    case LEADER_TAKE:
        return "take";
    case LEADER_RENEW:
        return "renew";
    }
    return "?";
}

/* Copies an optional string field; false when it has the wrong type or does not fit. */
static bool copy_str(const json_t *obj, const char *key, char *buf, size_t size)
{
    const json_t *v = json_object_get(obj, key);

    buf[0] = '\0';
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) >= size)
        return false;
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool copy_int(const json_t *obj, const char *key, int *ret)
{
    const json_t *v = json_object_get(obj, key);

    *ret = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
        return false;
    *ret = (int)json_integer_value(v);
    return true;
}

int leader_record_parse(const json_t *lease, struct leader_record *ret)
{
    const json_t *spec = json_object_get(lease, "spec");
    const json_t *meta = json_object_get(lease, "metadata");

    memset(ret, 0, sizeof(*ret));
    if (!json_is_object(lease) || !json_is_object(meta) || (spec && !json_is_object(spec)))
        return -RC_EPROTO;
    if (!copy_str(spec, "holderIdentity", ret->holder, sizeof(ret->holder)) ||
        !copy_int(spec, "leaseDurationSeconds", &ret->duration_s) ||
        !copy_str(spec, "acquireTime", ret->acquire_time, sizeof(ret->acquire_time)) ||
        !copy_str(spec, "renewTime", ret->renew_time, sizeof(ret->renew_time)) ||
        !copy_int(spec, "leaseTransitions", &ret->transitions) ||
        !copy_str(meta, "resourceVersion", ret->rv, sizeof(ret->rv)))
        return -RC_EPROTO;
    return 0;
}

static bool same_record(const struct leader_record *a, const struct leader_record *b)
{
    return strcmp(a->holder, b->holder) == 0 && a->duration_s == b->duration_s &&
           strcmp(a->acquire_time, b->acquire_time) == 0 &&
           strcmp(a->renew_time, b->renew_time) == 0 && a->transitions == b->transitions;
}

void leader_observe(struct leader_observed *o, const struct leader_record *rec, int64_t now_ms)
{
    if (!rec) {
        if (o->have)
            o->at_ms = now_ms;
        o->have = false;
        memset(&o->rec, 0, sizeof(o->rec));
        return;
    }
    if (!o->have || !same_record(&o->rec, rec))
        o->at_ms = now_ms;
    o->have = true;
    o->rec = *rec;
}

enum leader_decision leader_decide(const struct leader_observed *o, const char *identity,
                                   int64_t now_ms, int64_t fallback_lease_ms)
{
    int64_t dur;

    if (!o->have)
        return LEADER_CREATE;
    if (strcmp(o->rec.holder, identity) == 0)
        return LEADER_RENEW;
    if (o->rec.holder[0] == '\0')
        return LEADER_TAKE;
    dur = o->rec.duration_s > 0 ? (int64_t)o->rec.duration_s * 1000 : fallback_lease_ms;
    if (o->at_ms + dur > now_ms)
        return LEADER_FOLLOW;
    return LEADER_TAKE;
}

void leader_microtime(int64_t wall_ms, char *buf, size_t size)
{
    char t[RC_TIME_MAX];
    int64_t s = wall_ms - ((wall_ms % 1000) + 1000) % 1000;

    rc_time_format(s, t, sizeof(t)); /* "2026-11-24T10:00:00Z" */
    t[strlen(t) - 1] = '\0';
    snprintf(buf, size, "%s.%03d000Z", t, (int)(wall_ms - s));
}

static json_t *lease_json(const char *ns, const char *name, const char *rv, const char *holder,
                          int duration_s, const char *acquire, const char *renew, int transitions)
{
    json_t *meta = json_pack("{s:s,s:s}", "name", name, "namespace", ns);

    if (!meta)
        return NULL;
    if (rv && *rv && json_object_set_new(meta, "resourceVersion", json_string(rv)) != 0) {
        json_decref(meta);
        return NULL;
    }
    return json_pack("{s:s,s:s,s:o,s:{s:s,s:i,s:s,s:s,s:i}}", "apiVersion",
                     "coordination.k8s.io/v1", "kind", "Lease", "metadata", meta, "spec",
                     "holderIdentity", holder, "leaseDurationSeconds", duration_s, "acquireTime",
                     acquire, "renewTime", renew, "leaseTransitions", transitions);
}

json_t *leader_lease_body(const struct leader_observed *o, enum leader_decision d, const char *ns,
                          const char *name, const char *identity, int duration_s, int64_t wall_ms)
{
    char now[LEADER_TIME_MAX];

    leader_microtime(wall_ms, now, sizeof(now));
    switch (d) {
    case LEADER_CREATE:
        return lease_json(ns, name, NULL, identity, duration_s, now, now, 0);
    case LEADER_TAKE:
        return lease_json(ns, name, o->have ? o->rec.rv : NULL, identity, duration_s, now, now,
                          o->have ? o->rec.transitions + 1 : 0);
    case LEADER_RENEW:
        return lease_json(ns, name, o->rec.rv, identity, duration_s,
                          o->rec.acquire_time[0] ? o->rec.acquire_time : now, now,
                          o->rec.transitions);
    case LEADER_FOLLOW:
        break;
    }
    return NULL;
}

json_t *leader_release_body(const struct leader_observed *o, const char *ns, const char *name,
                            int64_t wall_ms)
{
    char now[LEADER_TIME_MAX];

    leader_microtime(wall_ms, now, sizeof(now));
    return lease_json(ns, name, o->rec.rv, "", 1, now, now, o->rec.transitions);
}

int leader_identity(char *buf, size_t size)
{
    const char *pod = getenv("POD_NAME");
    char host[256];
    int n;

    if (pod && *pod)
        n = snprintf(buf, size, "%s", pod);
    else {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "azpool");
        host[sizeof(host) - 1] = '\0';
        n = snprintf(buf, size, "%s_%ld", host, (long)getpid());
    }
    return n < 0 || (size_t)n >= size || n > LEADER_ID_MAX ? -RC_ELIMIT : 0;
}

/* ---- the elector ---- */

struct lticket {      /* a request in flight; outlives the elector if need be */
    struct leader *l; /* NULL once the elector is gone */
    unsigned epoch;
    int kind; /* TK_GET, TK_WRITE, TK_RELEASE */
    int64_t sent_ms;
};

enum { TK_GET = 0, TK_WRITE, TK_RELEASE };

struct leader {
    uv_loop_t *loop;
    struct kube *k;
    char *ns, *name, *identity;
    int64_t lease_ms, renew_ms, retry_ms;
    leader_cb on_started, on_stopped;
    void *arg;
    uv_timer_t *timer;
    struct leader_observed obs;
    struct lticket *inflight;
    unsigned epoch; /* bumped when leadership is lost: older responses are ignored */
    bool started, leading, settled, stopping, must_get;
    int64_t last_renew_ms; /* start of the last successful acquire/renew (uv_now) */
    leader_cb done;
    void *done_arg;
    bool release_pending;
};

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static int64_t wall_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct leader *leader_new(uv_loop_t *loop, struct kube *k, const struct leader_opts *o,
                          struct rc_err *err)
{
    struct leader *l;
    int64_t lease = o->lease_ms > 0 ? o->lease_ms : LEADER_LEASE_MS;
    int64_t renew = o->renew_deadline_ms > 0 ? o->renew_deadline_ms : LEADER_RENEW_MS;
    int64_t retry = o->retry_ms > 0 ? o->retry_ms : LEADER_RETRY_MS;

    if (!o->namespace || !*o->namespace || strlen(o->namespace) > 63) {
        rc_err_set(err, -RC_EINVAL, "namespace", "the Lease needs a namespace (POD_NAMESPACE)");
        return NULL;
    }
    if (!o->identity || !*o->identity || strlen(o->identity) > LEADER_ID_MAX) {
        rc_err_set(err, -RC_EINVAL, "identity", "an identity of 1..%d bytes is needed",
                   LEADER_ID_MAX);
        return NULL;
    }
    if (o->name && (!*o->name || strlen(o->name) > 253)) {
        rc_err_set(err, -RC_EINVAL, "name", "a Lease name of 1..253 bytes is needed");
        return NULL;
    }
    /* The deadline is checked on each retry tick, so a leader may act until renew + retry
     * after its last renewal began; a follower takes over lease after that at the
     * earliest: renew + retry < lease (stricter than client-go's lease > renew). */
    if (!(lease > renew + retry && renew * 10 > retry * 12) || lease % 1000 != 0) {
        rc_err_set(err, -RC_EINVAL, "lease",
                   "need lease > renew deadline + retry, renew deadline > 1.2 x retry and "
                   "whole seconds of lease (got %lld/%lld/%lld ms)",
                   (long long)lease, (long long)renew, (long long)retry);
        return NULL;
    }
    l = calloc(1, sizeof(*l));
    if (!l)
        goto nomem;
    l->loop = loop;
    l->k = k;
    l->ns = strdup(o->namespace);
    l->name = strdup(o->name ? o->name : LEADER_DEFAULT_NAME);
    l->identity = strdup(o->identity);
    l->timer = malloc(sizeof(*l->timer));
    if (!l->ns || !l->name || !l->identity || !l->timer) {
        free(l->timer);
        l->timer = NULL;
        leader_free(l);
        goto nomem;
    }
    l->lease_ms = lease;
    l->renew_ms = renew;
    l->retry_ms = retry;
    l->on_started = o->on_started;
    l->on_stopped = o->on_stopped;
    l->arg = o->arg;
    uv_timer_init(loop, l->timer);
    l->timer->data = l;
    return l;
nomem:
    rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    return NULL;
}

void leader_free(struct leader *l)
{
    if (!l)
        return;
    if (l->inflight)
        l->inflight->l = NULL;
    if (l->timer) {
        uv_timer_stop(l->timer);
        l->timer->data = NULL;
        uv_close((uv_handle_t *)l->timer, on_timer_closed);
    }
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l);
}

bool leader_is_leader(const struct leader *l)
{
    return l && l->leading;
}

bool leader_settled(const struct leader *l)
{
    return l && l->settled;
}

const char *leader_holder(const struct leader *l)
{
    return l && l->obs.have ? l->obs.rec.holder : "";
}

static void lose(struct leader *l)
{
    if (!l->leading)
        return;
    l->leading = false;
    l->epoch++;
    l->must_get = true;
    if (l->on_stopped)
        l->on_stopped(l->arg);
}

static void on_response(void *arg, const struct kube_response *resp);

static int lease_send(struct leader *l, int kind, const char *method, const json_t *body)
{
    struct lticket *t = malloc(sizeof(*t));
    char path[512];
    int rc;

    if (!t)
        return -RC_ENOMEM;
    *t = (struct lticket){l, l->epoch, kind, (int64_t)uv_now(l->loop)};
    if (strcmp(method, "POST") == 0)
        snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
    else
        snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns,
                 l->name);
    rc = body ? kube_request_json(l->k, method, path, NULL, body, on_response, t)
              : kube_request(l->k, method, path, NULL, NULL, on_response, t);
    if (rc != 0) {
        free(t);
        return rc;
    }
    l->inflight = t;
    return 0;
}

/* Writes what the decision asks for (nothing for FOLLOW). */
static void act(struct leader *l, enum leader_decision d)
{
    json_t *body;
    int dur_s = (int)(l->lease_ms / 1000);

    if (d == LEADER_FOLLOW) {
        l->settled = true;
        lose(l); /* another holds a valid lease: we cannot be leading */
        return;
    }
    body = leader_lease_body(&l->obs, d, l->ns, l->name, l->identity, dur_s, wall_now_ms());
    if (body)
        lease_send(l, TK_WRITE, d == LEADER_CREATE ? "POST" : "PUT", body);
    json_decref(body);
}

static void finish_release(struct leader *l)
{
    leader_cb done = l->done;
    void *arg = l->done_arg;

    l->release_pending = false;
    l->done = NULL;
    if (done)
        done(arg);
}

static void start_release(struct leader *l)
{
    json_t *body = leader_release_body(&l->obs, l->ns, l->name, wall_now_ms());
    int rc = body ? lease_send(l, TK_RELEASE, "PUT", body) : -RC_ENOMEM;

    json_decref(body);
    if (rc != 0)
        finish_release(l); /* nothing more to do: the Lease expires on its own */
}

static void on_response(void *arg, const struct kube_response *resp)
{
    struct lticket *t = arg;
    struct leader *l = t->l;
    int kind = t->kind;
    unsigned epoch = t->epoch;
    int64_t sent = t->sent_ms, now;
    struct leader_record rec;

    free(t);
    if (!l)
        return;
    l->inflight = NULL;
    now = (int64_t)uv_now(l->loop);
    if (kind == TK_RELEASE) {
        if (resp->err.code == 0 && leader_record_parse(resp->body, &rec) == 0)
            leader_observe(&l->obs, &rec, now);
        finish_release(l);
        return;
    }
    if (l->stopping) {
        /* stopped with release while this was in flight: release when the Lease (as this
         * response shows it, with the newest resourceVersion) names us */
        if (resp->err.code == 0 && leader_record_parse(resp->body, &rec) == 0)
            leader_observe(&l->obs, &rec, now);
        if (!l->release_pending)
            return;
        if (l->obs.have && strcmp(l->obs.rec.holder, l->identity) == 0)
            start_release(l);
        else
            finish_release(l);
        return;
    }
    if (epoch != l->epoch)
        return; /* sent before leadership was lost */
    if (kind == TK_GET) {
        if (resp->status == 404) {
            leader_observe(&l->obs, NULL, now);
        } else if (resp->err.code == 0 && leader_record_parse(resp->body, &rec) == 0) {
            leader_observe(&l->obs, &rec, now);
        } else {
            return; /* no answer: try again next period */
        }
        l->must_get = false;
        act(l, leader_decide(&l->obs, l->identity, now, l->lease_ms));
        return;
    }
    /* TK_WRITE; a success that took longer than the renew deadline to arrive does not
     * count: others may already have seen the write for a lease duration */
    if (resp->err.code == 0 && leader_record_parse(resp->body, &rec) == 0 &&
        strcmp(rec.holder, l->identity) == 0 && now - sent <= l->renew_ms) {
        leader_observe(&l->obs, &rec, now);
        l->last_renew_ms = sent;
        l->settled = true;
        if (!l->leading) {
            l->leading = true;
            if (l->on_started)
                l->on_started(l->arg);
        }
        return;
    }
    if (resp->status == 409)
        l->settled = l->settled || !l->leading; /* another replica won the race */
    l->must_get = true;
}

static void tick(struct leader *l)
{
    int64_t now = (int64_t)uv_now(l->loop);

    if (l->leading && now - l->last_renew_ms > l->renew_ms)
        lose(l);
    if (l->inflight)
        return;
    if (l->leading && !l->must_get && l->obs.have)
        act(l, LEADER_RENEW); /* fast path: renew with the last resourceVersion */
    else
        lease_send(l, TK_GET, "GET", NULL);
}

static void on_timer(uv_timer_t *h)
{
    struct leader *l = h->data;

    if (l && !l->stopping)
        tick(l);
}

int leader_start(struct leader *l)
{
    if (l->started)
        return -RC_EINVAL;
    l->started = true;
    uv_timer_start(l->timer, on_timer, 0, (uint64_t)l->retry_ms);
    return 0;
}

int leader_stop(struct leader *l, bool release, leader_cb done, void *arg)
{
    bool was = l->leading;
    json_t *body;
    int rc;

    if (l->stopping)
        return 0;
    l->stopping = true;
    uv_timer_stop(l->timer);
    lose(l);
    if (!release)
        return 0;
    if (l->inflight) { /* decided when its response arrives (it has the newest RV) */
        l->done = done;
        l->done_arg = arg;
        l->release_pending = true;
        return 1;
    }
    if (!was || !l->obs.have)
        return 0;
    body = leader_release_body(&l->obs, l->ns, l->name, wall_now_ms());
    rc = body ? lease_send(l, TK_RELEASE, "PUT", body) : -RC_ENOMEM;
    json_decref(body);
    if (rc != 0)
        return 0; /* the Lease expires on its own */
    l->done = done;
    l->done_arg = arg;
    l->release_pending = true;
    return 1;
}
