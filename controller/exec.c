/*
 * exec.c - see exec.h.
 *
 * A run copies the pool's actions into items and pumps them: start pending
 * items of the lowest unfinished wave while fewer than `parallel` run; when a
 * wave is drained move to the next; stop starting anything after the first
 * failure and report once nothing runs any more. Items whose key is already
 * in flight follow the item that runs it and take its result.
 */
#include "exec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rc_util.h"

enum item_state { IT_PENDING = 0, IT_RUNNING, IT_FOLLOWING, IT_DONE, IT_FAILED };

struct run;

struct item {
    struct run *run;
    struct rc_action a; /* copies: pool, target, path, body, key, instances, reason */
    enum item_state state;
    bool accept;              /* written with AZ_WRITE_ACCEPT */
    struct item *leader;      /* IT_FOLLOWING: the item that runs this key */
    struct item *next_flight; /* in the executor's in-flight list */
    struct item **followers;
    size_t n_followers;
};

struct run {
    struct exec *x;
    char *pool;
    struct item *items;
    size_t n;
    size_t running;
    bool stopping;
    bool finished;
    struct exec_result res;
    exec_done_cb cb;
    void *arg;
    uv_timer_t kick;
    struct run *next;
};

struct exec {
    uv_loop_t *loop;
    struct az_ops ops;
    struct exec_opts opts;
    struct run *runs;
    struct item *flight; /* items with a request in flight */
    size_t n_flight;
    bool closing;
};

/* ---- secrets ---- */

static char *base64(const char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out_len = 4 * ((len + 2) / 3);
    char *out = malloc(out_len + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static void wipe_value(json_t *v)
{
    const char *k;
    json_t *m;
    size_t i;

    if (json_is_string(v)) {
        /* jansson owns the buffer; overwrite it before it is freed. */
        explicit_bzero((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, m) wipe_value(m);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) wipe_value(m);
    }
}

void exec_wipe_secrets(json_t *secrets)
{
    if (!secrets)
        return;
    wipe_value(secrets);
    json_decref(secrets);
}

/* The placeholder's name/key when v is {"$secretRef":{"name":..,"key":..}}. */
static bool placeholder(const json_t *v, const char **ret_name, const char **ret_key)
{
    const json_t *ref;

    if (!json_is_object(v) || json_object_size(v) != 1)
        return false;
    ref = json_object_get(v, "$secretRef");
    if (!json_is_object(ref))
        return false;
    *ret_name = json_string_value(json_object_get(ref, "name"));
    *ret_key = json_string_value(json_object_get(ref, "key"));
    return *ret_name && *ret_key;
}

static json_t *secret_value(const char *field, char *value, const char *name, const char *key,
                            struct rc_err *err)
{
    json_t *v = NULL;

    if (strcmp(field, "customData") == 0) {
        char *b64 = base64(value, strlen(value));

        if (b64) {
            v = json_string(b64);
            explicit_bzero(b64, strlen(b64));
            free(b64);
        }
    } else if (strcmp(field, "protectedSettings") == 0) {
        v = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(v)) {
            if (v)
                exec_wipe_secrets(v);
            rc_err_set(err, -RC_EINVAL, "",
                       "secret %s/%s for protectedSettings is not a JSON object", name, key);
            return NULL;
        }
    } else {
        v = json_string(value);
    }
    if (!v)
        rc_err_set(err, -RC_EINVAL, "", "secret %s/%s is not valid UTF-8 text", name, key);
    return v;
}

static int resolve(json_t *node, const char *ns, exec_secret_cb cb, void *arg, json_t *found,
                   int depth, struct rc_err *err)
{
    const char *field;
    json_t *m;
    size_t i;
    void *tmp;

    if (depth > 64)
        return rc_err_set(err, -RC_ELIMIT, "", "request body nested too deeply");
    if (json_is_array(node)) {
        json_array_foreach(node, i, m)
        {
            int r = resolve(m, ns, cb, arg, found, depth + 1, err);

            if (r < 0)
                return r;
        }
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    json_object_foreach_safe(node, tmp, field, m)
    {
        const char *name, *key;
        char *value = NULL;
        json_t *v;
        int r;

        if (!placeholder(m, &name, &key)) {
            r = resolve(m, ns, cb, arg, found, depth + 1, err);
            if (r < 0)
                return r;
            continue;
        }
        if (!cb)
            return rc_err_set(err, -RC_EINVAL, "", "no secret source for secret %s/%s", name, key);
        r = cb(arg, ns, name, key, &value);
        if (r < 0)
            return rc_err_set(err, r, "", "secret %s/%s: not found or unreadable", name, key);
        v = secret_value(field, value, name, key, err);
        explicit_bzero(value, strlen(value));
        free(value);
        if (!v)
            return -RC_EINVAL;
        json_array_append(found, v);
        json_object_set_new(node, field, v);
    }
    return 0;
}

int exec_resolve_secrets(json_t *body, const char *ns, exec_secret_cb cb, void *arg,
                         json_t **ret_secrets, struct rc_err *err)
{
    json_t *found = json_array();
    int r;

    *ret_secrets = NULL;
    if (!found)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    r = resolve(body, ns, cb, arg, found, 0, err);
    if (r < 0 || json_array_size(found) == 0) {
        exec_wipe_secrets(found);
        return r;
    }
    *ret_secrets = found;
    return 0;
}

/* ---- items ---- */

static void item_release(struct item *it)
{
    struct rc_action *a = &it->a;

    free(a->pool);
    free(a->target);
    free(a->path);
    free(a->reason);
    free(a->key);
    json_decref(a->body);
    for (size_t i = 0; i < a->n_instances; i++)
        free(a->instances[i]);
    free(a->instances);
    free(it->followers);
}

static int item_copy(struct item *it, const struct rc_action *src)
{
    struct rc_action *a = &it->a;

    *a = *src;
    a->pool = rc_strdup(src->pool);
    a->target = rc_strdup(src->target);
    a->path = rc_strdup(src->path ? src->path : src->target);
    a->reason = rc_strdup(src->reason ? src->reason : "");
    a->key = rc_strdup(src->key ? src->key : src->path);
    a->body = src->body ? json_deep_copy(src->body) : NULL;
    a->instances = NULL;
    a->n_instances = 0;
    if (!a->pool || !a->target || !a->path || !a->reason || !a->key || (src->body && !a->body))
        return -RC_ENOMEM;
    if (src->n_instances) {
        a->instances = calloc(src->n_instances, sizeof(*a->instances));
        if (!a->instances)
            return -RC_ENOMEM;
        for (size_t i = 0; i < src->n_instances; i++) {
            a->instances[i] = rc_strdup(src->instances[i]);
            if (!a->instances[i])
                return -RC_ENOMEM;
            a->n_instances = i + 1;
        }
    }
    return 0;
}

/* Compute scale sets and VMs (and their children): what the next observe
 * shows in progress (exec.h "Accepted writes"). */
static bool compute_target(const char *path)
{
    return strcasestr(path, "/providers/Microsoft.Compute/virtualMachineScaleSets/") != NULL ||
           strcasestr(path, "/providers/Microsoft.Compute/virtualMachines/") != NULL;
}

/* Rule 9: these scale-set actions act on every instance without a list. */
static bool needs_instance_ids(const struct rc_action *a)
{
    static const char *const actions[] = {"/delete", "/reimage", "/manualupgrade", "/reimageall"};
    size_t n = strlen(a->path);

    if (a->method != RC_HTTP_POST)
        return false;
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        size_t m = strlen(actions[i]);

        if (n > m && strcasecmp(a->path + n - m, actions[i]) == 0)
            return true;
    }
    return false;
}

static bool has_instance_ids(const json_t *body)
{
    const json_t *ids = json_object_get(body, "instanceIds");
    size_t i;
    json_t *v;

    if (!json_is_array(ids) || json_array_size(ids) == 0)
        return false;
    json_array_foreach(ids, i,
                       v) if (!json_is_string(v) || json_string_length(v) == 0) return false;
    return true;
}

/* ---- runs ---- */

static void pump(struct run *run);

static void flight_remove(struct exec *x, struct item *it)
{
    for (struct item **p = &x->flight; *p; p = &(*p)->next_flight) {
        if (*p == it) {
            *p = it->next_flight;
            it->next_flight = NULL;
            x->n_flight--;
            return;
        }
    }
}

static struct item *flight_find(struct exec *x, const char *key)
{
    for (struct item *it = x->flight; it; it = it->next_flight)
        if (strcmp(it->a.key, key) == 0)
            return it;
    return NULL;
}

static void on_run_closed(uv_handle_t *h)
{
    struct run *run = h->data;

    for (size_t i = 0; i < run->n; i++)
        item_release(&run->items[i]);
    free(run->items);
    free(run->pool);
    free(run);
}

static void run_finish(struct run *run)
{
    struct exec *x = run->x;

    if (run->finished)
        return;
    run->finished = true;
    for (struct run **p = &x->runs; *p; p = &(*p)->next) {
        if (*p == run) {
            *p = run->next;
            break;
        }
    }
    run->cb(run->arg, &run->res);
    uv_close((uv_handle_t *)&run->kick, on_run_closed);
}

/* Records the outcome of one item (and of the items following it). */
static void item_complete(struct item *it, const struct az_result *res)
{
    struct run *run = it->run;
    struct exec *x = run->x;
    bool ok = res->err.code == 0;

    /* Deleting what is already gone reaches the goal. */
    if (!ok && res->err.klass == RC_CLASS_NOTFOUND &&
        (it->a.verb == RC_VERB_DELETE || it->a.verb == RC_VERB_DEREGISTER))
        ok = true;
    it->state = ok ? IT_DONE : IT_FAILED;
    if (ok) {
        run->res.done++;
        if (res->accepted) {
            int64_t after = res->retry_after_ms > 0 ? res->retry_after_ms : 1;

            run->res.accepted++;
            if (run->res.poll_after_ms == 0 || after < run->res.poll_after_ms)
                run->res.poll_after_ms = after;
        }
    } else {
        run->res.failed++;
        if (!run->res.err.code) {
            run->res.err = res->err;
            rc_strlcpy(run->res.failed_key, it->a.key, sizeof(run->res.failed_key));
        }
        if (res->retry_after_ms > run->res.retry_after_ms)
            run->res.retry_after_ms = res->retry_after_ms;
        run->stopping = true;
    }
    if (x->opts.on_action)
        x->opts.on_action(x->opts.action_arg, &it->a, res);
    run->running--;
}

static void on_write(void *arg, const struct az_result *res)
{
    struct item *it = arg;
    struct run *run = it->run;
    struct exec *x = run->x;
    struct item **followers = it->followers;
    size_t n_followers = it->n_followers;

    flight_remove(x, it);
    it->followers = NULL;
    it->n_followers = 0;
    item_complete(it, res);
    for (size_t i = 0; i < n_followers; i++) {
        struct run *frun = followers[i]->run;

        item_complete(followers[i], res);
        if (frun != run)
            pump(frun);
    }
    free(followers);
    pump(run);
}

static void fail_now(struct item *it, int code, const char *what)
{
    struct az_result res;

    memset(&res, 0, sizeof(res));
    rc_err_set(&res.err, code, "", "%s: %s", it->a.key, what);
    item_complete(it, &res);
}

static void start(struct item *it)
{
    struct run *run = it->run;
    struct exec *x = run->x;
    struct item *leader;
    json_t *body = NULL, *secrets = NULL;
    struct rc_err err = {0};
    char ns[256];
    const char *slash = strchr(it->a.pool, '/');
    int r;

    run->running++;
    it->state = IT_RUNNING;
    if (needs_instance_ids(&it->a) && !has_instance_ids(it->a.body)) {
        fail_now(it, -RC_EINVAL,
                 "refusing a scale-set action without instanceIds (it would act "
                 "on every instance)");
        return;
    }
    leader = flight_find(x, it->a.key);
    if (leader) {
        struct item **v = realloc(leader->followers, (leader->n_followers + 1) * sizeof(*v));

        if (!v) {
            fail_now(it, -RC_ENOMEM, "out of memory");
            return;
        }
        leader->followers = v;
        v[leader->n_followers++] = it;
        it->state = IT_FOLLOWING;
        it->leader = leader;
        return;
    }
    snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - it->a.pool) : 0, it->a.pool);
    if (it->a.body) {
        body = json_deep_copy(it->a.body);
        if (!body) {
            fail_now(it, -RC_ENOMEM, "out of memory");
            return;
        }
        r = exec_resolve_secrets(body, ns, x->opts.secret, x->opts.secret_arg, &secrets, &err);
        if (r < 0) {
            json_decref(body);
            item_complete(it, &(struct az_result){.err = err});
            return;
        }
    }
    it->next_flight = x->flight;
    x->flight = it;
    x->n_flight++;
    r = x->ops.write(x->ops.self, it->a.method, it->a.path, it->a.api_version, body,
                     it->accept ? AZ_WRITE_ACCEPT : 0u, on_write, it, &err);
    /* The body was serialised by write(); wipe the resolved secrets now. */
    exec_wipe_secrets(secrets);
    json_decref(body);
    if (r < 0) {
        flight_remove(x, it);
        item_complete(it, &(struct az_result){.err = err});
    }
}

static int lowest_pending_wave(const struct run *run)
{
    int w = -1;

    for (size_t i = 0; i < run->n; i++)
        if (run->items[i].state == IT_PENDING && (w < 0 || run->items[i].a.wave < w))
            w = run->items[i].a.wave;
    return w;
}

static bool wave_busy(const struct run *run, int wave)
{
    for (size_t i = 0; i < run->n; i++) {
        const struct item *it = &run->items[i];

        if (it->a.wave < wave && (it->state == IT_RUNNING || it->state == IT_FOLLOWING))
            return true;
    }
    return false;
}

static void pump(struct run *run)
{
    struct exec *x = run->x;

    while (!run->stopping && run->running < (size_t)x->opts.parallel) {
        int wave = lowest_pending_wave(run);
        struct item *next = NULL;

        if (wave < 0 || wave_busy(run, wave))
            break; /* all started, or an earlier wave still runs */
        for (size_t i = 0; i < run->n && !next; i++)
            if (run->items[i].state == IT_PENDING && run->items[i].a.wave == wave)
                next = &run->items[i];
        start(next);
    }
    if (run->running == 0) {
        for (size_t i = 0; i < run->n; i++)
            if (run->items[i].state == IT_PENDING)
                run->res.skipped++;
        if (run->stopping || lowest_pending_wave(run) < 0)
            run_finish(run);
    }
}

static void on_kick(uv_timer_t *t)
{
    pump(t->data);
}

int exec_run(struct exec *x, const struct rc_plan *plan, const char *pool, exec_done_cb cb,
             void *arg, struct rc_err *err)
{
    struct run *run;
    size_t n = 0;

    if (x->closing)
        return rc_err_set(err, -RC_ETRANSIENT, "", "executor is shutting down");
    run = calloc(1, sizeof(*run));
    if (!run)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    for (size_t i = 0; i < plan->n_actions; i++)
        if (strcmp(plan->actions[i].pool, pool) == 0)
            n++;
    run->x = x;
    run->cb = cb;
    run->arg = arg;
    run->pool = rc_strdup(pool);
    run->items = calloc(n ? n : 1, sizeof(*run->items));
    if (!run->pool || !run->items || uv_timer_init(x->loop, &run->kick) != 0) {
        free(run->pool);
        free(run->items);
        free(run);
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    }
    run->kick.data = run;
    for (size_t i = 0; i < plan->n_actions; i++) {
        if (strcmp(plan->actions[i].pool, pool) != 0)
            continue;
        run->items[run->n].run = run;
        if (item_copy(&run->items[run->n++], &plan->actions[i]) < 0) {
            uv_close((uv_handle_t *)&run->kick, on_run_closed);
            return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        }
    }
    {
        int last = 0;

        for (size_t i = 0; i < run->n; i++)
            if (run->items[i].a.wave > last)
                last = run->items[i].a.wave;
        for (size_t i = 0; i < run->n; i++)
            run->items[i].accept = x->opts.accept && run->items[i].a.wave == last &&
                                   compute_target(run->items[i].a.path);
    }
    run->next = x->runs;
    x->runs = run;
    uv_timer_start(&run->kick, on_kick, 0, 0); /* callbacks only from the loop */
    return 0;
}

struct exec *exec_new(uv_loop_t *loop, const struct az_ops *ops, const struct exec_opts *opts)
{
    struct exec *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    x->loop = loop;
    x->ops = *ops;
    if (opts)
        x->opts = *opts;
    if (x->opts.parallel <= 0)
        x->opts.parallel = 8;
    return x;
}

void exec_free(struct exec *x)
{
    if (!x)
        return;
    x->closing = true;
    /* Requests still in flight belong to az_ops, which must be shut down
     * first (its callbacks complete them); what is left are runs waiting. */
    while (x->runs) {
        struct run *run = x->runs;

        if (!run->res.err.code)
            rc_err_set(&run->res.err, -RC_ETRANSIENT, "", "executor shut down");
        run->stopping = true;
        run_finish(run);
    }
    free(x);
}

size_t exec_running(const struct exec *x)
{
    size_t n = 0;

    for (const struct run *r = x->runs; r; r = r->next)
        n++;
    return n;
}

size_t exec_in_flight(const struct exec *x)
{
    return x->n_flight;
}
