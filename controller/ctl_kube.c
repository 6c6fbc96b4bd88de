/*
 * ctl_kube.c - the Kubernetes source (ctl_kube.h describes what it does; the
 * seam is ctl_int.h).
 *
 * Everything runs on the controller's loop. Informer callbacks only note what
 * changed (dirty pool keys) and arm the debounce timer; the timer rebuilds the
 * desired state, hands it over, enqueues the dirty pools, adds missing
 * finalizers and adjusts the Secret informers. Requests carry a small context
 * (struct kreq_ctx) that outlives the source only until kube_free() completes
 * them at shutdown.
 */
#include "ctl_kube.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "ctl_int.h"
#include "ctl_run.h"
#include "kevents.h"
#include "kinformer.h"
#include "leader.h"
#include "kstatus.h"
#include "kube.h"
#include "log.h"
#include "rc_model.h"
#include "rc_util.h"

#define KEY_MAX 600

/* ---- helpers on JSON objects (ctl_kube.h) ---- */

static const json_t *meta_of(const json_t *obj)
{
    return json_object_get(obj, "metadata");
}

static const char *meta_str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(meta_of(obj), field));
}

bool ckube_has_finalizer(const json_t *obj, size_t *ret_index)
{
    const json_t *f = json_object_get(meta_of(obj), "finalizers"), *v;
    size_t i;

    json_array_foreach(f, i, v) if (json_is_string(v) &&
                                    strcmp(json_string_value(v), CKUBE_FINALIZER) == 0)
    {
        if (ret_index)
            *ret_index = i;
        return true;
    }
    return false;
}

json_t *ckube_finalizer_add_patch(const json_t *obj)
{
    const json_t *f = json_object_get(meta_of(obj), "finalizers");
    const char *rv = meta_str(obj, "resourceVersion");
    json_t *list = json_is_array(f) ? json_deep_copy(f) : json_array();

    if (!list)
        return NULL;
    json_array_append_new(list, json_string(CKUBE_FINALIZER));
    if (rv)
        return json_pack("{s:{s:s,s:o}}", "metadata", "resourceVersion", rv, "finalizers", list);
    return json_pack("{s:{s:o}}", "metadata", "finalizers", list);
}

json_t *ckube_finalizer_remove_patch(const json_t *obj)
{
    char path[64];
    size_t i;

    if (!ckube_has_finalizer(obj, &i))
        return NULL;
    snprintf(path, sizeof(path), "/metadata/finalizers/%zu", i);
    return json_pack("[{s:s,s:s,s:s},{s:s,s:s}]", "op", "test", "path", path, "value",
                     CKUBE_FINALIZER, "op", "remove", "path", path);
}

static bool same_field(const json_t *a, const json_t *b, const char *field)
{
    const json_t *x = json_object_get(meta_of(a), field), *y = json_object_get(meta_of(b), field);

    if (!x || !y)
        return !x && !y;
    return json_equal(x, y);
}

bool ckube_pool_changed(const json_t *old_obj, const json_t *new_obj)
{
    if (!old_obj || !new_obj)
        return true;
    if (!same_field(old_obj, new_obj, "uid") || !same_field(old_obj, new_obj, "generation") ||
        !same_field(old_obj, new_obj, "deletionTimestamp") ||
        !same_field(old_obj, new_obj, "finalizers") || !same_field(old_obj, new_obj, "labels") ||
        !same_field(old_obj, new_obj, "annotations"))
        return true;
    /* a server without generations (or a built-in type): compare the spec */
    if (!json_object_get(meta_of(new_obj), "generation"))
        return !json_equal(json_object_get(old_obj, "spec"), json_object_get(new_obj, "spec"));
    return false;
}

static void add_unique(json_t *names, const char *name)
{
    const json_t *v;
    size_t i;

    json_array_foreach(names, i, v) if (strcmp(json_string_value(v), name) == 0) return;
    json_array_append_new(names, json_string(name));
}

static void secret_refs_in(const json_t *node, json_t *names, int depth)
{
    const char *key;
    const json_t *v;
    size_t i;

    if (depth > RC_DOC_MAX_DEPTH)
        return;
    if (json_is_array(node)) {
        json_array_foreach(node, i, v) secret_refs_in(v, names, depth + 1);
        return;
    }
    json_object_foreach((json_t *)node, key, v)
    {
        size_t n = strlen(key);
        const char *name;

        if (n > 9 && strcmp(key + n - 9, "SecretRef") == 0 && json_is_object(v) &&
            (name = json_string_value(json_object_get(v, "name"))) && name[0])
            add_unique(names, name);
        else if (json_is_object(v) || json_is_array(v))
            secret_refs_in(v, names, depth + 1);
    }
}

void ckube_secret_refs(const json_t *obj, json_t *names)
{
    const json_t *spec = json_object_get(obj, "spec");

    if (json_is_object(spec))
        secret_refs_in(spec, names, 0);
}

bool ckube_pool_refers(const json_t *pool_obj, const char *kind, const char *name)
{
    const json_t *spec = json_object_get(pool_obj, "spec");
    const char *ref = NULL;
    bool found = false;

    if (strcmp(kind, "ImageVersion") == 0)
        ref = json_string_value(json_object_get(json_object_get(spec, "imageRef"), "name"));
    else if (strcmp(kind, "ExpiryPolicy") == 0)
        ref = json_string_value(json_object_get(json_object_get(spec, "expiryPolicyRef"), "name"));
    else if (strcmp(kind, "Secret") == 0) {
        json_t *names = json_array();
        const json_t *v;
        size_t i;

        if (!names)
            return true; /* out of memory: err on the side of looking again */
        ckube_secret_refs(pool_obj, names);
        json_array_foreach(names, i, v) found = found || strcmp(json_string_value(v), name) == 0;
        json_decref(names);
        return found;
    }
    return ref && strcmp(ref, name) == 0;
}

int ckube_secret_value(const json_t *secret, const char *key, char **ret)
{
    const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), key));
    size_t len;
    int r;

    *ret = NULL;
    if (!b64)
        return -RC_ENOTFOUND;
    if (strlen(b64) > (size_t)CKUBE_SECRET_VALUE_MAX / 3 * 4 + 4)
        return -RC_ELIMIT;
    r = kube_base64_decode(b64, ret, &len);
    if (r < 0)
        return r;
    if (strlen(*ret) != len) { /* a NUL inside: not usable as a string */
        memset(*ret, 0, len);
        free(*ret);
        *ret = NULL;
        return -RC_EINVAL;
    }
    return 0;
}

/* ---- the source ---- */

struct sref {
    char key[KEY_MAX]; /* "ns/name" */
    struct kinformer *inf;
    bool used;
};

struct ckube {
    struct ctl *c;
    uv_loop_t *loop;
    struct kube *k;
    struct kevents *events;
    struct leader *leader;
    bool leading;    /* we hold the Lease: Kubernetes writes allowed */
    bool released;   /* shutdown: the Lease release finished (or was not needed) */
    uv_timer_t tick; /* readiness poll until synced, then the release deadline at shutdown */
    bool tick_open;
    struct kinformer *pools, *images, *policies;
    struct sref *secrets;
    size_t n_secrets;
    uv_timer_t debounce;
    bool timer_open;
    json_t *dirty;      /* set: pool keys to enqueue at the next rebuild */
    bool dirty_all;     /* enqueue every pool */
    json_t *last_good;  /* "Kind/ns/name" -> last valid object */
    json_t *logged;     /* "Kind/ns/name" -> resourceVersion whose errors were logged */
    json_t *finalizing; /* set: pool keys with a finalizer patch in flight */
    json_t *unfinalize; /* set: pool keys with a finalizer removal in flight */
    json_t *st_flight;  /* set of "plural/ns/name" with a status write in flight */
    json_t *st_next;    /* "plural/ns/name" -> status to write after the one in flight */
    json_t *st_written; /* "plural/ns/name" -> {"status", "at"} of the last write */
    json_t *ref_errors; /* "Kind/ns/name" -> the core's first error on its current version */
    json_t *remembered; /* set: pool keys handed to ctl_remember */
    bool synced;
    bool stopping;
    int refs; /* 1 + requests in flight + open timer */
};

struct kreq_ctx {
    struct ckube *s;
    char key[KEY_MAX + 32]; /* "ns/name", or "plural/ns/name" for status writes */
    json_t *status;         /* status writes: what was written */
    json_t *obj;            /* finalizer removal: the pool as it was (it may vanish meanwhile) */
    char rv[64];            /* finalizer add: the resourceVersion of the precondition */
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_unref(struct ckube *s)
{
    if (--s->refs > 0)
        return;
    json_decref(s->dirty);
    json_decref(s->last_good);
    json_decref(s->logged);
    json_decref(s->finalizing);
    json_decref(s->unfinalize);
    json_decref(s->st_flight);
    json_decref(s->st_next);
    json_decref(s->st_written);
    json_decref(s->ref_errors);
    json_decref(s->remembered);
    free(s->secrets);
    free(s);
}

static void on_debounce(uv_timer_t *t);

static void arm(struct ckube *s, uint64_t delay_ms)
{
    if (s->stopping || !s->timer_open)
        return;
    if (uv_is_active((uv_handle_t *)&s->debounce) && uv_timer_get_due_in(&s->debounce) <= delay_ms)
        return;
    uv_timer_start(&s->debounce, on_debounce, delay_ms, 0);
}

static void pool_key(const json_t *obj, char *buf, size_t size)
{
    const char *ns = meta_str(obj, "namespace"), *name = meta_str(obj, "name");

    snprintf(buf, size, "%s/%s", ns ? ns : "default", name ? name : "");
}

static void mark_dirty(struct ckube *s, const char *key)
{
    json_object_set_new(s->dirty, key, json_true());
}

/* Every cached pool of namespace ns that refers to kind/name becomes dirty. */
static void mark_referring(struct ckube *s, const char *kind, const char *ns, const char *name)
{
    const json_t *cache = kinformer_cache(s->pools), *obj;
    const char *key;

    json_object_foreach((json_t *)cache, key, obj)
    {
        const char *pns = meta_str(obj, "namespace");

        if (pns && ns && strcmp(pns, ns) == 0 && ckube_pool_refers(obj, kind, name))
            mark_dirty(s, key);
    }
}

static void on_pool(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    struct ckube *s = arg;
    char key[KEY_MAX];

    pool_key(new_obj ? new_obj : old_obj, key, sizeof(key));
    if (ckube_pool_changed(old_obj, new_obj)) {
        mark_dirty(s, key);
        arm(s, CKUBE_DEBOUNCE_MS);
    } else if (new_obj && !ckube_has_finalizer(new_obj, NULL)) {
        arm(s, CKUBE_DEBOUNCE_MS); /* keep the finalizer check current */
    }
    if (!new_obj) { /* gone from the cluster: forget what we kept for it */
        char mkey[KEY_MAX + 16];

        snprintf(mkey, sizeof(mkey), "workerpools/%s", key);
        json_object_del(s->st_written, mkey);
        json_object_del(s->st_next, mkey);
        json_object_del(s->remembered, key);
    }
}

static void on_ref(struct ckube *s, const char *kind, const json_t *old_obj, const json_t *new_obj)
{
    const json_t *o = new_obj ? new_obj : old_obj;
    const char *ns = meta_str(o, "namespace"), *name = meta_str(o, "name");

    if (old_obj && new_obj && strcmp(kind, "Secret") != 0 && same_field(old_obj, new_obj, "uid") &&
        same_field(old_obj, new_obj, "generation") &&
        json_object_get(meta_of(new_obj), "generation"))
        return; /* status only */
    if (old_obj && new_obj && strcmp(kind, "Secret") == 0 &&
        json_equal(json_object_get(old_obj, "data"), json_object_get(new_obj, "data")))
        return;
    if (name)
        mark_referring(s, kind, ns, name);
    if (!new_obj && ns && name && strcmp(kind, "Secret") != 0) {
        char mkey[KEY_MAX + 32];

        snprintf(mkey, sizeof(mkey), "%s/%s/%s",
                 strcmp(kind, "ImageVersion") == 0 ? "imageversions" : "expirypolicies", ns, name);
        json_object_del(s->st_written, mkey);
        json_object_del(s->st_next, mkey);
    }
    arm(s, CKUBE_DEBOUNCE_MS);
}

static void on_image(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    on_ref(arg, "ImageVersion", old_obj, new_obj);
}

static void on_policy(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    on_ref(arg, "ExpiryPolicy", old_obj, new_obj);
}

static void on_secret(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    on_ref(arg, "Secret", old_obj, new_obj);
}

/* Failed lists and watches are logged at their 1st, 2nd, 4th, 8th, ... failure
 * in a row (a missing CRD or RBAC rule shows at once, without flooding). */
static void on_inf_error(void *arg, const char *path, long status, const char *reason,
                         const char *message, int failures)
{
    struct log_line l;

    (void)arg;
    if (failures & (failures - 1))
        return;
    log_begin(&l, LOG_WARN, wall_ms(), "kube.watch_failed");
    log_str(&l, "path", path);
    log_int(&l, "status", status);
    log_str(&l, "reason", reason);
    log_str(&l, "err", message);
    log_int(&l, "failures", failures);
    log_end(&l);
}

static void on_synced(void *arg)
{
    struct ckube *s = arg;

    s->dirty_all = true; /* after a (re)list every pool is looked at */
    arm(s, CKUBE_DEBOUNCE_MS);
}

/* ---- requests ---- */

static struct kreq_ctx *ctx_new(struct ckube *s, const char *key)
{
    struct kreq_ctx *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    x->s = s;
    snprintf(x->key, sizeof(x->key), "%s", key);
    s->refs++;
    return x;
}

static void ctx_free(struct kreq_ctx *x)
{
    struct ckube *s = x->s;

    json_decref(x->status);
    json_decref(x->obj);
    free(x);
    s_unref(s);
}

static void log_request(const char *event, const char *key, const struct kube_response *r)
{
    struct log_line l;

    log_begin(&l, r->err.code ? LOG_WARN : LOG_INFO, wall_ms(), event);
    log_str(&l, "pool", key);
    log_int(&l, "status", r->status);
    if (r->err.code) {
        log_str(&l, "reason", r->reason);
        log_str(&l, "err", r->message);
    }
    log_end(&l);
}

/* An Event about pool obj. */
static void obj_event(struct ckube *s, const json_t *obj, enum kevents_type type,
                      const char *reason, const char *message)
{
    struct kevents_ref ref;

    if (!s->events || !obj || !s->leading)
        return; /* a follower writes nothing */
    memset(&ref, 0, sizeof(ref));
    ref.api_version = RC_API_VERSION;
    ref.kind = "WorkerPool";
    ref.namespace = meta_str(obj, "namespace");
    ref.name = meta_str(obj, "name");
    ref.uid = meta_str(obj, "uid");
    ref.resource_version = meta_str(obj, "resourceVersion");
    kevents_record(s->events, &ref, type, reason, message, wall_ms());
}

/* An Event about the cached pool of key (nothing when it is not cached). */
static void pool_event(struct ckube *s, const char *key, enum kevents_type type, const char *reason,
                       const char *message)
{
    char ns[300];
    const char *slash = strchr(key, '/');

    if (!slash)
        return;
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
    obj_event(s, kinformer_get(s->pools, ns, slash + 1), type, reason, message);
}

static void item_path(const char *plural, const char *key, const char *sub, char *buf, size_t size)
{
    char ns[300], name[300];
    const char *slash = strchr(key, '/');

    snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - key) : 0, key);
    snprintf(name, sizeof(name), "%s", slash ? slash + 1 : key);
    snprintf(buf, size, "%s/namespaces/%s/%s/%s%s%s", CKUBE_GROUP_PATH, ns, plural, name,
             sub ? "/" : "", sub ? sub : "");
}

static void on_finalizer_added(void *arg, const struct kube_response *r)
{
    struct kreq_ctx *x = arg;
    struct ckube *s = x->s;

    if (!s->stopping) {
        json_object_del(s->finalizing, x->key);
        if (r->status == 409) {
            /* The object changed meanwhile (e.g. our own status write): try again at
             * once when the watch already has a newer version, else when it brings one
             * (on_pool) or after CKUBE_RETRY_MS. */
            char ns[300];
            const char *slash = strchr(x->key, '/');
            const json_t *now = NULL;
            const char *rv;

            if (slash) {
                snprintf(ns, sizeof(ns), "%.*s", (int)(slash - x->key), x->key);
                now = kinformer_get(s->pools, ns, slash + 1);
            }
            rv = now ? meta_str(now, "resourceVersion") : NULL;
            arm(s, rv && strcmp(rv, x->rv) != 0 ? CKUBE_DEBOUNCE_MS : CKUBE_RETRY_MS);
        } else {
            log_request(r->err.code ? "kube.finalizer_failed" : "kube.finalizer_added", x->key, r);
            if (!r->err.code)
                pool_event(s, x->key, KEVENTS_NORMAL, KEVENTS_FINALIZER_ADDED,
                           "finalizer " CKUBE_FINALIZER " added: Azure resources are destroyed "
                           "before the object goes");
            if (r->err.code && r->status != 404)
                arm(s, CKUBE_RETRY_MS);
        }
    }
    ctx_free(x);
}

static void ensure_finalizer(struct ckube *s, const char *key, const json_t *obj)
{
    char path[1024];
    struct kreq_ctx *x;
    json_t *patch;

    if (!s->leading || json_object_get(meta_of(obj), "deletionTimestamp") ||
        ckube_has_finalizer(obj, NULL) || json_object_get(s->finalizing, key))
        return;
    patch = ckube_finalizer_add_patch(obj);
    x = ctx_new(s, key);
    if (!patch || !x) {
        json_decref(patch);
        if (x)
            ctx_free(x);
        return;
    }
    snprintf(x->rv, sizeof(x->rv), "%s",
             meta_str(obj, "resourceVersion") ? meta_str(obj, "resourceVersion") : "");
    item_path("workerpools", key, NULL, path, sizeof(path));
    if (kube_request_json(s->k, "PATCH", path, "application/merge-patch+json", patch,
                          on_finalizer_added, x) == 0)
        json_object_set_new(s->finalizing, key, json_true());
    else
        ctx_free(x);
    json_decref(patch);
}

static void on_finalizer_removed(void *arg, const struct kube_response *r)
{
    struct kreq_ctx *x = arg;
    struct ckube *s = x->s;

    if (!s->stopping) {
        json_object_del(s->unfinalize, x->key);
        log_request(r->err.code ? "kube.cleanup_failed" : "kube.finalizer_removed", x->key, r);
        if (!r->err.code)
            obj_event(s, x->obj, KEVENTS_NORMAL, KEVENTS_CLEANUP_COMPLETED,
                      "Azure resources are gone; finalizer " CKUBE_FINALIZER " removed");
        if (r->err.code && r->status != 404) {
            mark_dirty(s, x->key); /* the next reconcile reports gone again */
            arm(s, CKUBE_RETRY_MS);
        }
    }
    ctx_free(x);
}

/* ---- secrets ---- */

static struct sref *sref_find(struct ckube *s, const char *key)
{
    for (size_t i = 0; i < s->n_secrets; i++)
        if (strcmp(s->secrets[i].key, key) == 0)
            return &s->secrets[i];
    return NULL;
}

static void sref_add(struct ckube *s, const char *ns, const char *name)
{
    char key[KEY_MAX], path[600], sel[400];
    struct kinformer_opts o;
    struct sref *v;

    snprintf(key, sizeof(key), "%s/%s", ns, name);
    if ((v = sref_find(s, key))) {
        v->used = true;
        return;
    }
    if (s->n_secrets >= CKUBE_SECRETS_MAX) {
        struct log_line l;

        log_begin(&l, LOG_WARN, wall_ms(), "kube.secrets_limit");
        log_str(&l, "secret", key);
        log_int(&l, "max", CKUBE_SECRETS_MAX);
        log_end(&l);
        return;
    }
    v = realloc(s->secrets, (s->n_secrets + 1) * sizeof(*v));
    if (!v)
        return;
    s->secrets = v;
    v = &s->secrets[s->n_secrets];
    memset(v, 0, sizeof(*v));
    snprintf(v->key, sizeof(v->key), "%s", key);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets", ns);
    snprintf(sel, sizeof(sel), "metadata.name=%s", name);
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.field_selector = sel;
    o.on_change = on_secret;
    o.on_error = on_inf_error;
    o.arg = s;
    v->inf = kinformer_new(s->k, &o);
    if (!v->inf || kinformer_start(v->inf) < 0) {
        kinformer_free(v->inf);
        return;
    }
    v->used = true;
    s->n_secrets++;
}

/* Starts informers for the Secrets the pools refer to, stops the others. */
static void refresh_secrets(struct ckube *s)
{
    const json_t *cache = kinformer_cache(s->pools), *obj, *v;
    const char *key;
    json_t *names = json_array();
    size_t i;

    if (!names)
        return;
    for (i = 0; i < s->n_secrets; i++)
        s->secrets[i].used = false;
    json_object_foreach((json_t *)cache, key, obj)
    {
        const char *ns = meta_str(obj, "namespace");

        json_array_clear(names);
        ckube_secret_refs(obj, names);
        json_array_foreach(names, i, v) sref_add(s, ns ? ns : "default", json_string_value(v));
    }
    json_decref(names);
    for (i = 0; i < s->n_secrets;) {
        if (!s->secrets[i].used) {
            kinformer_free(s->secrets[i].inf);
            s->secrets[i] = s->secrets[--s->n_secrets];
            continue;
        }
        i++;
    }
}

static int be_secret(void *arg, const char *ns, const char *name, const char *key, char **ret_value)
{
    struct ckube *s = arg;
    char skey[KEY_MAX];
    const struct sref *v;
    const json_t *obj;

    *ret_value = NULL;
    snprintf(skey, sizeof(skey), "%s/%s", ns, name);
    v = sref_find(s, skey);
    if (!v || !kinformer_synced(v->inf))
        return -RC_ETRANSIENT; /* not watched yet: the next rebuild starts it */
    obj = kinformer_get(v->inf, ns, name);
    if (!obj)
        return -RC_ENOTFOUND;
    return ckube_secret_value(obj, key, ret_value);
}

/* ---- the desired state ---- */

static void log_invalid(struct ckube *s, const char *lkey, const json_t *obj,
                        const struct rc_errs *errs)
{
    /* once per generation (status writes change the resourceVersion, not the spec) */
    const json_t *gen = json_object_get(meta_of(obj), "generation");
    char ver[64];
    const char *seen = json_string_value(json_object_get(s->logged, lkey));

    if (json_is_integer(gen))
        snprintf(ver, sizeof(ver), "g%lld", (long long)json_integer_value(gen));
    else
        snprintf(ver, sizeof(ver), "rv%s",
                 meta_str(obj, "resourceVersion") ? meta_str(obj, "resourceVersion") : "");
    if (seen && strcmp(ver, seen) == 0)
        return;
    json_object_set_new(s->logged, lkey, json_string(ver));
    if (strncmp(lkey, "WorkerPool/", 11) == 0 && errs->n) {
        char msg[RC_ERR_PATH_MAX + RC_ERR_MSG_MAX + 64];

        snprintf(msg, sizeof(msg), "%s%s%s%s", errs->v[0].path, errs->v[0].path[0] ? ": " : "",
                 errs->v[0].msg,
                 json_object_get(s->last_good, lkey) ? " (the last valid version is used)" : "");
        pool_event(s, lkey + 11, KEVENTS_WARNING, KEVENTS_INVALID_SPEC, msg);
    }
    for (size_t i = 0; i < errs->n; i++) {
        struct log_line l;
        char msg[RC_ERR_PATH_MAX + RC_ERR_MSG_MAX + 4];

        snprintf(msg, sizeof(msg), "%s%s%s", errs->v[i].path, errs->v[i].path[0] ? ": " : "",
                 errs->v[i].msg);
        log_begin(&l, LOG_WARN, wall_ms(), "source.invalid");
        log_str(&l, "object", lkey);
        log_str(&l, "err", msg);
        log_word(&l, json_object_get(s->last_good, lkey) ? "keeping the last valid version"
                                                         : "ignoring");
        log_end(&l);
    }
}

/* Decodes obj into want; when it is invalid, its last valid version with the
 * current metadata instead. */
static void decode_one(struct ckube *s, struct rc_desired *want, const char *kind, const char *key,
                       const json_t *obj)
{
    char lkey[KEY_MAX + 32], label[KEY_MAX + 8];
    struct rc_desired scratch = {0};
    struct rc_errs errs = {0};
    const json_t *good;

    snprintf(lkey, sizeof(lkey), "%s/%s", kind, key);
    snprintf(label, sizeof(label), "kube:%s", key);
    rc_decode_json(&scratch, label, obj, &errs, NULL);
    rc_desired_release(&scratch);
    if (errs.n == 0) {
        json_object_set(s->last_good, lkey, (json_t *)obj);
        json_object_del(s->logged, lkey);
        json_object_del(s->ref_errors, lkey);
        rc_decode_json(want, label, obj, &errs, NULL);
        rc_errs_release(&errs);
        return;
    }
    log_invalid(s, lkey, obj, &errs);
    {
        char msg[RC_ERR_PATH_MAX + RC_ERR_MSG_MAX + 4];

        snprintf(msg, sizeof(msg), "%s%s%s", errs.v[0].path, errs.v[0].path[0] ? ": " : "",
                 errs.v[0].msg);
        json_object_set_new(s->ref_errors, lkey, json_string(msg));
    }
    rc_errs_release(&errs);
    good = json_object_get(s->last_good, lkey);
    if (good && same_field(good, obj, "uid")) {
        json_t *copy = json_deep_copy(good);

        if (copy) {
            json_object_set(copy, "metadata", json_object_get(obj, "metadata"));
            rc_decode_json(want, label, copy, &errs, NULL);
            rc_errs_release(&errs);
            json_decref(copy);
        }
        return;
    }
    /* never valid: recorded as invalid so that nothing takes its absence for a deletion */
    rc_decode_json(want, label, obj, &errs, NULL);
    rc_errs_release(&errs);
}

static void remember_pool(struct ckube *s, const char *key, const json_t *obj)
{
    const json_t *st = json_object_get(obj, "status");
    struct ctl_remembered r;
    const char *lst;
    int64_t t = 0;

    if (json_object_get(s->remembered, key))
        return;
    json_object_set_new(s->remembered, key, json_true());
    memset(&r, 0, sizeof(r));
    r.desired_replicas = json_is_integer(json_object_get(st, "desiredReplicas"))
                             ? (int)json_integer_value(json_object_get(st, "desiredReplicas"))
                             : -1;
    lst = json_string_value(json_object_get(st, "lastScaleTime"));
    if (lst && rc_time_parse(lst, &t, NULL) == 0)
        r.last_scale_ms = r.last_scale_out_ms = r.last_scale_in_ms = t;
    if (r.desired_replicas < 0 && !r.last_scale_ms)
        return;
    ctl_remember(s->c, meta_str(obj, "namespace"), meta_str(obj, "name"), &r);
}

/* Drops the keys "Kind/ns/name" of map whose object is in no cache. */
static void forget_missing(struct ckube *s, json_t *map)
{
    const char *key;
    void *tmp;
    json_t *v;

    json_object_foreach_safe(map, tmp, key, v)
    {
        const char *slash = strchr(key, '/');
        const struct kinformer *inf;

        if (!slash)
            continue;
        if (strncmp(key, "WorkerPool/", 11) == 0)
            inf = s->pools;
        else if (strncmp(key, "ImageVersion/", 13) == 0)
            inf = s->images;
        else
            inf = s->policies;
        if (!json_object_get(kinformer_cache(inf), slash + 1))
            json_object_del(map, key);
    }
}

static void rebuild(struct ckube *s)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0};
    const json_t *obj;
    const char *key;

    json_object_foreach((json_t *)kinformer_cache(s->images), key, obj)
        decode_one(s, &want, "ImageVersion", key, obj);
    json_object_foreach((json_t *)kinformer_cache(s->policies), key, obj)
        decode_one(s, &want, "ExpiryPolicy", key, obj);
    json_object_foreach((json_t *)kinformer_cache(s->pools), key, obj)
    {
        decode_one(s, &want, "WorkerPool", key, obj);
        remember_pool(s, key, obj);
    }
    /* what is no longer in any cache is forgotten */
    forget_missing(s, s->last_good);
    forget_missing(s, s->ref_errors);
    forget_missing(s, s->logged);
    rc_validate_refs(&want, &errs); /* the planner reports missing references per pool */
    rc_errs_release(&errs);
    ctl_set_desired(s->c, &want);
    rc_desired_release(&want);
}

static void write_ref_statuses(struct ckube *s, const char *plural, const char *kind);
static void write_invalid_pool_statuses(struct ckube *s);

static void on_debounce(uv_timer_t *t)
{
    struct ckube *s = t->data;
    const json_t *obj;
    const char *key;
    json_t *v;

    if (s->stopping || !kinformer_synced(s->pools) || !kinformer_synced(s->images) ||
        !kinformer_synced(s->policies))
        return;
    refresh_secrets(s);
    rebuild(s);
    json_object_foreach((json_t *)kinformer_cache(s->pools), key, obj)
    {
        char lkey[KEY_MAX + 16];

        /* only a pool the planner can act on gets the finalizer: one that was never
         * valid is not planned, so nothing would ever remove it */
        snprintf(lkey, sizeof(lkey), "WorkerPool/%s", key);
        if (json_object_get(s->last_good, lkey))
            ensure_finalizer(s, key, obj);
    }
    if (s->leading) {
        write_invalid_pool_statuses(s);
        write_ref_statuses(s, "imageversions", "ImageVersion");
        write_ref_statuses(s, "expirypolicies", "ExpiryPolicy");
    }
    if (!s->synced) {
        struct log_line l;

        s->synced = true;
        s->dirty_all = true;
        log_begin(&l, LOG_INFO, wall_ms(), "kube.synced");
        log_int(&l, "pools", (long long)kinformer_count(s->pools));
        log_int(&l, "imageversions", (long long)kinformer_count(s->images));
        log_int(&l, "expirypolicies", (long long)kinformer_count(s->policies));
        log_end(&l);
    }
    if (s->dirty_all) {
        ctl_enqueue_all(s->c);
    } else {
        json_object_foreach(s->dirty, key, v)
        {
            char ns[300];
            const char *slash = strchr(key, '/');

            if (!slash)
                continue;
            snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
            ctl_enqueue(s->c, ns, slash + 1);
        }
    }
    s->dirty_all = false;
    json_object_clear(s->dirty);
}

/* ---- the backend ---- */

static const json_t *cached_pool(struct ckube *s, const struct rc_pool *p)
{
    const json_t *obj = kinformer_get(s->pools, p->meta.namespace, p->meta.name);

    if (obj && p->meta.uid && meta_str(obj, "uid") && strcmp(meta_str(obj, "uid"), p->meta.uid))
        return NULL; /* another object of the same name */
    return obj;
}

static bool be_may_write(void *arg, const struct rc_pool *p)
{
    struct ckube *s = arg;
    const json_t *obj = cached_pool(s, p);

    return obj && ckube_has_finalizer(obj, NULL);
}

static void be_gone(void *arg, const struct rc_pool *p)
{
    struct ckube *s = arg;
    const json_t *obj = cached_pool(s, p);
    char key[KEY_MAX], path[1024];
    struct kreq_ctx *x;
    json_t *patch;

    if (!s->leading || !obj || !json_object_get(meta_of(obj), "deletionTimestamp"))
        return;
    pool_key(obj, key, sizeof(key));
    if (json_object_get(s->unfinalize, key) || !(patch = ckube_finalizer_remove_patch(obj)))
        return;
    x = ctx_new(s, key);
    if (!x) {
        json_decref(patch);
        return;
    }
    x->obj = json_incref((json_t *)obj);
    item_path("workerpools", key, NULL, path, sizeof(path));
    if (kube_request_json(s->k, "PATCH", path, "application/json-patch+json", patch,
                          on_finalizer_removed, x) == 0)
        json_object_set_new(s->unfinalize, key, json_true());
    else
        ctx_free(x);
    json_decref(patch);
}

static const char *action_reason(const struct rc_action *a)
{
    switch (a->verb) {
    case RC_VERB_CREATE:
        return KEVENTS_CREATED;
    case RC_VERB_UPDATE:
        return "Updated";
    case RC_VERB_SCALE:
        if (a->reason && strncmp(a->reason, "scale in", 8) == 0)
            return KEVENTS_SCALED_IN;
        return KEVENTS_SCALED_OUT;
    case RC_VERB_DELETE:
        return KEVENTS_DELETED;
    case RC_VERB_REIMAGE:
        return KEVENTS_REIMAGED;
    case RC_VERB_REGISTER:
        return "Registered";
    case RC_VERB_DEREGISTER:
        return "Deregistered";
    case RC_VERB_RUN:
        return "Started";
    }
    return "Action";
}

/* An Event per finished action: Normal with the planner's reason, or Warning
 * with the error (its message never holds a secret: DESIGN.md §4 rule 7). */
static void be_action(void *arg, const char *pool, const struct rc_action *a,
                      const struct az_result *res)
{
    struct ckube *s = arg;
    char msg[KEVENTS_MESSAGE_MAX];

    if (s->stopping)
        return;
    if (res->err.code == 0) {
        pool_event(s, pool, KEVENTS_NORMAL, action_reason(a), a->reason ? a->reason : "");
        return;
    }
    snprintf(msg, sizeof(msg), "%s %s failed: %s%s%s", rc_verb_name(a->verb), a->target,
             res->azure_code[0] ? res->azure_code : "", res->azure_code[0] ? ": " : "",
             res->err.msg);
    /* No answer from Azure (status 0): the request never left or never came
     * back (an unreadable Secret, a transport error): not an Azure error. */
    pool_event(s, pool, KEVENTS_WARNING,
               res->status == 429 ? KEVENTS_THROTTLED_BY_AZURE
               : res->status == 0 ? KEVENTS_ACTION_FAILED
                                  : KEVENTS_AZURE_ERROR,
               msg);
}

static enum rc_cond cond_of(const char *s)
{
    if (s && strcmp(s, "True") == 0)
        return RC_COND_TRUE;
    if (s && strcmp(s, "False") == 0)
        return RC_COND_FALSE;
    return RC_COND_UNKNOWN;
}

/* The status to write (ctl_kube.h): the reconciler's, with observedGeneration,
 * the conditions' observedGeneration/lastTransitionTime filled in kstatus' way
 * and Reconciling added (= Progressing, False while Stalled is True). */
json_t *ckube_pool_status(const json_t *status, const json_t *prev, int64_t generation,
                          const char *invalid, int64_t now_ms)
{
    const json_t *conds = json_object_get(status, "conditions"), *c;
    struct kstatus_cond kc[17];
    json_t *out = json_deep_copy(status), *nc;
    size_t i, n = 0;
    int progressing = -1, stalled = -1;

    if (!out)
        return NULL;
    json_array_foreach(conds, i, c)
    {
        if (n == 16)
            break;
        kc[n].type = json_string_value(json_object_get(c, "type"));
        kc[n].status = cond_of(json_string_value(json_object_get(c, "status")));
        kc[n].reason = json_string_value(json_object_get(c, "reason"));
        kc[n].message = json_string_value(json_object_get(c, "message"));
        if (!kc[n].type || strcmp(kc[n].type, "Reconciling") == 0)
            continue; /* ours to derive below */
        if (invalid && (strcmp(kc[n].type, "Ready") == 0 || strcmp(kc[n].type, "Stalled") == 0)) {
            /* the current spec is not applied: not Ready, and stalled until it is fixed */
            kc[n].status = strcmp(kc[n].type, "Ready") == 0 ? RC_COND_FALSE : RC_COND_TRUE;
            kc[n].reason = KEVENTS_INVALID_SPEC;
            kc[n].message = invalid;
        }
        if (strcmp(kc[n].type, "Progressing") == 0)
            progressing = (int)n;
        else if (strcmp(kc[n].type, "Stalled") == 0)
            stalled = (int)n;
        n++;
    }
    if (progressing >= 0) {
        /* kstatus (cli-utils, Flux) reads Reconciling and Stalled: never both True */
        kc[n] = kc[progressing];
        kc[n].type = "Reconciling";
        if (stalled >= 0 && kc[stalled].status == RC_COND_TRUE) {
            kc[n].status = RC_COND_FALSE;
            kc[n].reason = kc[stalled].reason;
            kc[n].message = kc[stalled].message;
        }
        n++;
    }
    if (n) {
        nc = kstatus_conditions(kc, n, json_object_get(prev, "conditions"), generation, now_ms);
        if (nc)
            json_object_set_new(out, "conditions", nc);
    }
    json_object_set_new(out, "observedGeneration", json_integer(generation));
    return out;
}

static void write_status(struct ckube *s, const char *plural, const char *key, json_t *status);

static struct kinformer *informer_of(struct ckube *s, const char *plural)
{
    if (strcmp(plural, "workerpools") == 0)
        return s->pools;
    if (strcmp(plural, "imageversions") == 0)
        return s->images;
    return s->policies;
}

static void on_status_written(void *arg, const struct kube_response *r)
{
    struct kreq_ctx *x = arg;
    struct ckube *s = x->s;
    char plural[32];
    const char *slash = strchr(x->key, '/');
    json_t *next;

    if (!s->stopping && slash) {
        snprintf(plural, sizeof(plural), "%.*s", (int)(slash - x->key), x->key);
        json_object_del(s->st_flight, x->key);
        if (r->err.code == 0) {
            const json_t *got = json_object_get(r->body, "status");

            /* what we sent, and what the server made of it (pruned, defaulted) */
            json_object_set_new(s->st_written, x->key,
                                json_pack("{s:O,s:O,s:I}", "status", x->status, "got",
                                          got ? (json_t *)got : json_null(), "at",
                                          (json_int_t)uv_now(s->loop)));
        } else if (r->status != 404) {
            log_request("kube.status_failed", x->key, r);
        }
        next = json_object_get(s->st_next, x->key);
        if (next) {
            json_incref(next);
            json_object_del(s->st_next, x->key);
            write_status(s, plural, slash + 1, next);
        }
    }
    ctx_free(x);
}

/* Writes status (taken) to .../<plural>/<name>/status when it differs from the
 * cached object's; key is "ns/name". */
static void write_status(struct ckube *s, const char *plural, const char *key, json_t *status)
{
    const json_t *obj, *cur;
    const json_t *w;
    char path[1024], ns[300], mkey[KEY_MAX + 32];
    const char *slash = strchr(key, '/');
    struct kreq_ctx *x;
    json_t *patch;

    if (!slash || s->stopping || !s->leading) {
        json_decref(status);
        return;
    }
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
    snprintf(mkey, sizeof(mkey), "%s/%s", plural, key);
    obj = kinformer_get(informer_of(s, plural), ns, slash + 1);
    cur = obj ? json_object_get(obj, "status") : NULL;
    if (!obj || !kstatus_changed(cur, status)) {
        json_decref(status);
        return;
    }
    w = json_object_get(s->st_written, mkey);
    if (w && !kstatus_changed(json_object_get(w, "status"), status)) {
        const json_t *got = json_object_get(w, "got");

        /* The same status as our last write: the server still holds what that write
         * made of it (it may prune or default fields), or the watch has not caught up
         * with it yet. */
        if ((json_is_object(got) && !kstatus_changed(cur, got)) ||
            uv_now(s->loop) - (uint64_t)json_integer_value(json_object_get(w, "at")) <
                CKUBE_STATUS_SETTLE_MS) {
            json_decref(status);
            return;
        }
    }
    if (json_object_get(s->st_flight, mkey)) {
        json_object_set_new(s->st_next, mkey, status);
        return;
    }
    patch = kstatus_merge_patch(cur, status);
    x = ctx_new(s, mkey);
    if (!patch || !x) {
        json_decref(patch);
        json_decref(status);
        if (x)
            ctx_free(x);
        return;
    }
    x->status = status;
    item_path(plural, key, "status", path, sizeof(path));
    if (kube_request_json(s->k, "PATCH", path, "application/merge-patch+json", patch,
                          on_status_written, x) == 0)
        json_object_set_new(s->st_flight, mkey, json_true());
    else
        ctx_free(x);
    json_decref(patch);
}

/* The status of every ImageVersion and ExpiryPolicy: usedBy (the pools of its
 * namespace that refer to it, at most 256 named) and Ready (valid for the
 * core, or its first error). resolvedVersion/imageId are not known here (the
 * reconciler resolves images per pool). */
/* Pools whose spec was never valid are not planned: their status says why
 * (Ready False, Stalled True, reason InvalidSpec, the core's first error). */
static void write_invalid_pool_statuses(struct ckube *s)
{
    const char *key;
    json_t *v;

    json_object_foreach(s->ref_errors, key, v)
    {
        static const char *const types[] = {"Ready", "Progressing", "Degraded", "Stalled",
                                            "Reconciling"};
        struct kstatus_cond kc[5];
        const json_t *obj, *cur;
        json_t *st, *conds;
        char ns[300];
        const char *nsname, *slash;

        if (strncmp(key, "WorkerPool/", 11) != 0 || json_object_get(s->last_good, key))
            continue; /* a pool with a valid version gets its status from the reconciler */
        nsname = key + 11;
        slash = strchr(nsname, '/');
        if (!slash)
            continue;
        snprintf(ns, sizeof(ns), "%.*s", (int)(slash - nsname), nsname);
        obj = kinformer_get(s->pools, ns, slash + 1);
        if (!obj)
            continue;
        cur = json_object_get(obj, "status");
        for (int i = 0; i < 5; i++) {
            kc[i].type = types[i];
            kc[i].status =
                i == 0 || i == 3 ? (i == 0 ? RC_COND_FALSE : RC_COND_TRUE) : RC_COND_FALSE;
            /* Reconciling (4) is False while Stalled: with the same reason */
            kc[i].reason = i == 0 || i >= 3 ? KEVENTS_INVALID_SPEC : "AsExpected";
            kc[i].message = i == 0 || i >= 3 ? json_string_value(v) : "";
        }
        st = json_is_object(cur) ? json_deep_copy(cur) : json_object();
        conds = kstatus_conditions(kc, 5, json_object_get(cur, "conditions"),
                                   json_integer_value(json_object_get(meta_of(obj), "generation")),
                                   wall_ms());
        if (!st || !conds) {
            json_decref(st);
            json_decref(conds);
            continue;
        }
        json_object_set_new(st, "conditions", conds);
        json_object_set(st, "observedGeneration", json_object_get(meta_of(obj), "generation"));
        write_status(s, "workerpools", nsname, st);
    }
}

static void write_ref_statuses(struct ckube *s, const char *plural, const char *kind)
{
    const json_t *cache = kinformer_cache(informer_of(s, plural)), *obj, *p;
    const json_t *pools = kinformer_cache(s->pools);
    const char *key, *pkey;

    json_object_foreach((json_t *)cache, key, obj)
    {
        const char *ns = meta_str(obj, "namespace"), *name = meta_str(obj, "name");
        const char *used[256];
        size_t n = 0;
        char lkey[KEY_MAX + 32];
        const char *err;
        json_t *st;

        if (!ns || !name)
            continue;
        json_object_foreach((json_t *)pools, pkey, p)
        {
            const char *pns = meta_str(p, "namespace");

            if (n < 256 && pns && strcmp(pns, ns) == 0 && ckube_pool_refers(p, kind, name))
                used[n++] = meta_str(p, "name");
        }
        snprintf(lkey, sizeof(lkey), "%s/%s", kind, key);
        err = json_string_value(json_object_get(s->ref_errors, lkey));
        st = kstatus_ref(used, n, !err, err ? "Invalid" : NULL, err, NULL,
                         json_integer_value(json_object_get(meta_of(obj), "generation")),
                         json_object_get(obj, "status"), wall_ms());
        if (st)
            write_status(s, plural, key, st);
    }
}

static void be_status(void *arg, const struct rc_pool *p, const json_t *obj)
{
    struct ckube *s = arg;
    const json_t *cached = cached_pool(s, p), *st = json_object_get(obj, "status");
    char key[KEY_MAX], lkey[KEY_MAX + 16];
    json_t *want;

    if (!cached || !json_is_object(st) || s->stopping || !s->leading)
        return;
    pool_key(cached, key, sizeof(key));
    snprintf(lkey, sizeof(lkey), "WorkerPool/%s", key);
    want = ckube_pool_status(st, json_object_get(cached, "status"), p->meta.generation,
                             json_string_value(json_object_get(s->ref_errors, lkey)), wall_ms());
    if (want)
        write_status(s, "workerpools", key, want);
}

static void on_timer_closed(uv_handle_t *h)
{
    s_unref(h->data);
}

/* The last step of the shutdown: the Lease is released (or that was not
 * needed, or it took too long): free the elector and the client. */
static void finish_stop(struct ckube *s)
{
    if (s->released)
        return;
    s->released = true;
    leader_free(s->leader);
    s->leader = NULL;
    if (s->tick_open) {
        uv_timer_stop(&s->tick);
        uv_close((uv_handle_t *)&s->tick, on_timer_closed);
        s->tick_open = false;
    }
    s->refs++; /* kube_free runs the request callbacks, which unref */
    kube_free(s->k);
    s->k = NULL;
    s_unref(s);
    s_unref(s); /* the owner's reference */
}

static void on_release_deadline(uv_timer_t *t);

static void on_released(void *arg)
{
    struct ckube *s = arg;

    /* not from inside the elector's callback: it still uses itself */
    if (s->tick_open && !s->released)
        uv_timer_start(&s->tick, on_release_deadline, 0, 0);
}

static void on_release_deadline(uv_timer_t *t)
{
    finish_stop(t->data);
}

static void be_stop(void *arg)
{
    struct ckube *s = arg;

    s->stopping = true;
    kevents_free(s->events);
    s->events = NULL;
    kinformer_free(s->pools);
    kinformer_free(s->images);
    kinformer_free(s->policies);
    for (size_t i = 0; i < s->n_secrets; i++)
        kinformer_free(s->secrets[i].inf);
    s->n_secrets = 0;
    s->pools = s->images = s->policies = NULL;
    if (s->timer_open) {
        uv_timer_stop(&s->debounce);
        uv_close((uv_handle_t *)&s->debounce, on_timer_closed);
        s->timer_open = false;
    }
    /* Release the Lease so that another replica takes over within one retry
     * period; the client lives until the release is answered (at most
     * CKUBE_RELEASE_MS). */
    if (s->leader && s->tick_open && leader_stop(s->leader, true, on_released, s) == 1) {
        uv_timer_start(&s->tick, on_release_deadline, CKUBE_RELEASE_MS, 0);
        return;
    }
    finish_stop(s);
}

static void on_lead(void *arg)
{
    struct ckube *s = arg;
    struct log_line l;

    if (s->stopping)
        return;
    s->leading = true;
    log_begin(&l, LOG_INFO, wall_ms(), "kube.leading");
    log_end(&l);
    ctl_set_standby(s->c, false);
    s->dirty_all = true;
    arm(s, CKUBE_DEBOUNCE_MS); /* finalizers of pools seen while following */
}

static void on_follow(void *arg)
{
    struct ckube *s = arg;
    struct log_line l;

    s->leading = false;
    if (s->stopping)
        return;
    log_begin(&l, LOG_WARN, wall_ms(), "kube.leadership_lost");
    log_end(&l);
    ctl_set_standby(s->c, true);
}

/* Ready (/readyz) once the informers have listed and leadership is settled. */
static void on_tick(uv_timer_t *t)
{
    struct ckube *s = t->data;

    if (s->stopping || !s->synced || !leader_settled(s->leader))
        return;
    uv_timer_stop(&s->tick);
    ctl_set_synced(s->c, true);
}

static struct kinformer *start_informer(struct ckube *s, const char *plural, const char *ns,
                                        const char *selector, kinformer_cb cb)
{
    struct kinformer_opts o;
    struct kinformer *inf;
    char path[600];

    if (ns && ns[0])
        snprintf(path, sizeof(path), "%s/namespaces/%s/%s", CKUBE_GROUP_PATH, ns, plural);
    else
        snprintf(path, sizeof(path), "%s/%s", CKUBE_GROUP_PATH, plural);
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.label_selector = selector;
    o.on_change = cb;
    o.on_synced = on_synced;
    o.on_error = on_inf_error;
    o.arg = s;
    inf = kinformer_new(s->k, &o);
    if (inf && kinformer_start(inf) < 0) {
        kinformer_free(inf);
        inf = NULL;
    }
    return inf;
}

int ctl_kube_start(struct ctl *c, const struct ctl_opts *o, struct ctl_backend *ret_be,
                   struct rc_err *err)
{
    struct kube_config cfg;
    struct ckube *s;
    struct log_line l;

    memset(ret_be, 0, sizeof(*ret_be));
    if (o->namespace && o->namespace[0] && strchr(o->namespace, '/'))
        return rc_err_set(err, -RC_EINVAL, "--namespace", "not a namespace name: %s", o->namespace);
    if (kube_config_auto(o->kubeconfig, o->context, getenv("AZPOOL_KUBE_SA_DIR"), &cfg, err) < 0) {
        char msg[RC_ERR_MSG_MAX];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        rc_err_set(err, err->code, err->path, "kubeconfig: %s%s%s", err->path,
                   err->path[0] ? ": " : "", msg);
        return -1;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        kube_config_release(&cfg);
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory"), -1;
    }
    s->c = c;
    s->loop = ctl_loop(c);
    s->refs = 1;
    s->dirty = json_object();
    s->last_good = json_object();
    s->logged = json_object();
    s->finalizing = json_object();
    s->unfinalize = json_object();
    s->st_flight = json_object();
    s->st_next = json_object();
    s->st_written = json_object();
    s->ref_errors = json_object();
    s->remembered = json_object();
    s->k = kube_new(s->loop, &cfg, 30000, err);
    if (s->k) {
        char host[256] = "";
        const char *inst = getenv("POD_NAME");

        if (!inst || !inst[0])
            inst = gethostname(host, sizeof(host) - 1) == 0 ? host : "azpool";
        s->events = kevents_new(s->loop, s->k, "azpool", inst);
    }
    log_begin(&l, LOG_INFO, wall_ms(), "kube.config");
    log_str(&l, "server", cfg.server);
    log_str(&l, "context", cfg.context ? cfg.context : "(in-cluster)");
    log_str(&l, "namespace", o->namespace && o->namespace[0] ? o->namespace : "(all)");
    log_str(&l, "selector", o->selector ? o->selector : "");
    log_end(&l);
    kube_config_release(&cfg);
    if (!s->k || !s->events || !s->dirty || !s->last_good || !s->logged || !s->finalizing ||
        !s->unfinalize || !s->st_flight || !s->st_next || !s->st_written || !s->ref_errors ||
        !s->remembered)
        goto fail;
    if (uv_timer_init(s->loop, &s->debounce) != 0)
        goto fail;
    s->debounce.data = s;
    s->timer_open = true;
    s->refs++;
    if (uv_timer_init(s->loop, &s->tick) != 0)
        goto fail;
    s->tick.data = s;
    s->tick_open = true;
    s->refs++;
    {
        struct leader_opts lo;
        char id[LEADER_ID_MAX + 1];
        const char *lns = getenv("POD_NAMESPACE");

        if (leader_identity(id, sizeof(id)) < 0) {
            rc_err_set(err, -RC_EINVAL, "", "no leader identity (POD_NAME or host name)");
            goto fail;
        }
        memset(&lo, 0, sizeof(lo));
        lo.namespace = lns && lns[0] ? lns : kube_namespace(s->k);
        lo.identity = id;
        lo.on_started = on_lead;
        lo.on_stopped = on_follow;
        lo.arg = s;
        s->leader = leader_new(s->loop, s->k, &lo, err);
        if (!s->leader || leader_start(s->leader) < 0)
            goto fail;
        log_begin(&l, LOG_INFO, wall_ms(), "kube.election");
        log_str(&l, "lease", lo.namespace);
        log_str(&l, "identity", id);
        log_end(&l);
    }
    ctl_set_standby(c, true); /* until we lead */
    uv_timer_start(&s->tick, on_tick, 100, 100);
    s->pools = start_informer(s, "workerpools", o->namespace, o->selector, on_pool);
    s->images = start_informer(s, "imageversions", o->namespace, NULL, on_image);
    s->policies = start_informer(s, "expirypolicies", o->namespace, NULL, on_policy);
    if (!s->pools || !s->images || !s->policies)
        goto fail;
    ret_be->arg = s;
    ret_be->status = be_status;
    ret_be->gone = be_gone;
    ret_be->action = be_action;
    ret_be->secret = be_secret;
    ret_be->may_write = be_may_write;
    ret_be->stop = be_stop;
    return 0;
fail:
    if (!err->code)
        rc_err_set(err, -RC_ENOMEM, "", "cannot start the Kubernetes source");
    be_stop(s);
    return -1;
}
