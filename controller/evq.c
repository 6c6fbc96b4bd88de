/* evq.c - see evq.h. */
#include "evq.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "azq.h"
#include "log.h"
#include "rc_util.h"

struct evq {
    uv_loop_t *loop;
    struct http *h;
    struct az_cred *cred;
    struct evq_opts o;
    char *conn;
    char url[AZQ_URL_MAX + AZQ_SAS_MAX]; /* as given (may hold a SAS) */
    char poison_url[AZQ_URL_MAX + AZQ_SAS_MAX];
    struct azq *q, *poison;
    bool poison_ready; /* created (or known to exist) */
    uv_timer_t *timer;
    int refs;    /* 1 for the owner + 1 per request in flight */
    bool closed; /* evq_free was called */
    bool polling;
    int64_t backoff_ms;
    struct evq_stats st;
    /* seen event ids: a ring (LRU by arrival; a hit does not refresh) */
    char (*seen)[EVQ_ID_MAX];
    size_t n_seen, seen_next;
};

struct msgop {
    struct evq *q;
    char *id, *pop, *text;
    bool created; /* the poison queue was created for this message */
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- decoding ---- */

static void copy_str(char *dst, size_t size, const char *s)
{
    rc_strlcpy(dst, s ? s : "", size);
}

static int decode_one(const json_t *o, struct evq_event *ev, struct rc_err *err)
{
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *type = json_string_value(json_object_get(o, "eventType"));
    const char *subject = json_string_value(json_object_get(o, "subject"));
    const char *uri = json_string_value(json_object_get(json_object_get(o, "data"), "resourceUri"));
    const char *source = json_string_value(json_object_get(o, "source"));
    char joined[EVQ_RESOURCE_MAX];

    if (!json_is_object(o))
        return rc_err_set(err, -RC_EPROTO, "", "an event is not an object");
    if (!type)
        type = json_string_value(json_object_get(o, "type")); /* CloudEvents */
    if (!id || !*id || strlen(id) >= EVQ_ID_MAX)
        return rc_err_set(err, -RC_EPROTO, "", "event without a usable id");
    if (!uri && subject && subject[0] != '/' && source) {
        /* CloudEvents may carry a subject relative to source */
        snprintf(joined, sizeof(joined), "%s/%s", source, subject);
        uri = joined;
    }
    if (!uri)
        uri = subject;
    if (!uri || strncasecmp(uri, "/subscriptions/", 15) || strlen(uri) >= EVQ_RESOURCE_MAX)
        return rc_err_set(err, -RC_EPROTO, "", "event without an ARM resource id");
    copy_str(ev->id, sizeof(ev->id), id);
    copy_str(ev->type, sizeof(ev->type), type);
    copy_str(ev->resource, sizeof(ev->resource), uri);
    return 0;
}

int evq_decode(const char *text, struct evq_event *ret, size_t max, struct rc_err *err)
{
    const char *s = text;
    size_t n = strlen(text);
    unsigned char *dec = NULL;
    json_t *doc;
    json_error_t jerr;
    int r = 0;

    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0)
        return rc_err_set(err, -RC_EPROTO, "", "empty message");
    if (*s != '{' && *s != '[') {
        size_t dlen = 0;

        dec = malloc(n);
        if (!dec)
            return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        if (azq_b64_decode(s, n, dec, n, &dlen) < 0) {
            free(dec);
            return rc_err_set(err, -RC_EPROTO, "", "message is neither JSON nor base64");
        }
        s = (const char *)dec;
        n = dlen;
    }
    doc = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
    free(dec);
    if (!doc)
        return rc_err_set(err, -RC_EPROTO, "", "message is not JSON: %s", jerr.text);
    if (json_is_array(doc)) {
        size_t i;
        json_t *e;

        if (json_array_size(doc) == 0)
            r = rc_err_set(err, -RC_EPROTO, "", "empty event array");
        else if (json_array_size(doc) > max)
            r = rc_err_set(err, -RC_ELIMIT, "", "more than %zu events in a message", max);
        json_array_foreach(doc, i, e)
        {
            if (r < 0)
                break;
            r = decode_one(e, &ret[i], err);
        }
        if (r == 0)
            r = (int)json_array_size(doc);
    } else {
        r = max ? decode_one(doc, &ret[0], err) : -RC_ELIMIT;
        if (r == 0)
            r = 1;
    }
    json_decref(doc);
    return r;
}

/* ---- ownership by id ---- */

/* id equals prefix or continues it with '/' (case-insensitive). */
static bool under(const char *id, const char *prefix)
{
    size_t n = strlen(prefix);

    while (n && prefix[n - 1] == '/')
        n--;
    return n && strncasecmp(id, prefix, n) == 0 && (id[n] == '\0' || id[n] == '/');
}

/* The name after prefix + "/" up to the next '/' (or end) into buf; false when
 * id is not below prefix. */
static bool child_name(const char *id, const char *prefix, char *buf, size_t size)
{
    size_t n = strlen(prefix), k;

    if (strncasecmp(id, prefix, n) || id[n] != '/')
        return false;
    id += n + 1;
    k = strcspn(id, "/");
    if (k == 0 || k >= size)
        return false;
    memcpy(buf, id, k);
    buf[k] = '\0';
    return true;
}

static bool pool_vm(const struct rc_pool *p, const char *vm)
{
    char want[RC_NAME_MAX + 1];
    unsigned slot, inc;
    size_t max =
        p->spec.os_profile.os_type == RC_OS_WINDOWS ? RC_HOST_MAX_WINDOWS : RC_HOST_MAX_LINUX;

    if (rc_name_vm_parse(vm, &slot, &inc) < 0)
        return false;
    if (rc_name_vm(p->meta.namespace, p->meta.name, slot, inc, max, want, sizeof(want)) < 0)
        return false;
    return strcasecmp(want, vm) == 0;
}

bool evq_pool_owns(const struct rc_pool *p, const char *id)
{
    char rg[1024], pfx[2048], name[RC_NAME_MAX + 8];
    const struct rc_pool_spec *s = &p->spec;

    if (!id || !s->subscription_id || !s->resource_group || !p->meta.namespace || !p->meta.name)
        return false;
    snprintf(rg, sizeof(rg), "/subscriptions/%s/resourceGroups/%s", s->subscription_id,
             s->resource_group);
    if (strcasecmp(id, rg) == 0)
        return true;
    if (s->hybrid_worker.automation_account_id && s->hybrid_worker.group) {
        snprintf(pfx, sizeof(pfx), "%s/hybridRunbookWorkerGroups/%s",
                 s->hybrid_worker.automation_account_id, s->hybrid_worker.group);
        if (under(id, pfx))
            return true;
    }
    if (s->after_create.automation_account_id) {
        snprintf(pfx, sizeof(pfx), "%s/jobs", s->after_create.automation_account_id);
        if (under(id, pfx))
            return true;
    }
    if (!under(id, rg))
        return false;
    if (s->mode == RC_MODE_SCALESET) {
        char vmss[RC_NAME_MAX + 1];

        if (rc_name_vmss(p->meta.namespace, p->meta.name, vmss, sizeof(vmss)) < 0)
            return false;
        snprintf(pfx, sizeof(pfx), "%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s", rg,
                 vmss);
        return under(id, pfx);
    }
    snprintf(pfx, sizeof(pfx), "%s/providers/Microsoft.Compute/virtualMachines", rg);
    if (child_name(id, pfx, name, sizeof(name)))
        return pool_vm(p, name);
    snprintf(pfx, sizeof(pfx), "%s/providers/Microsoft.Network/networkInterfaces", rg);
    if (child_name(id, pfx, name, sizeof(name))) {
        size_t n = strlen(name);

        if (n > 4 && strcasecmp(name + n - 4, "-nic") == 0) {
            name[n - 4] = '\0';
            return pool_vm(p, name);
        }
    }
    return false;
}

/* ---- the loop ---- */

static void unref(struct evq *q)
{
    if (--q->refs > 0)
        return;
    azq_free(q->q);
    azq_free(q->poison);
    if (q->conn) {
        memset(q->conn, 0, strlen(q->conn));
        free(q->conn);
    }
    free(q->seen);
    free(q);
}

static bool seen_check_add(struct evq *q, const char *id)
{
    for (size_t i = 0; i < q->n_seen; i++)
        if (strcmp(q->seen[i], id) == 0)
            return true;
    copy_str(q->seen[q->seen_next], EVQ_ID_MAX, id);
    q->seen_next = (q->seen_next + 1) % EVQ_SEEN_MAX;
    if (q->n_seen < EVQ_SEEN_MAX)
        q->n_seen++;
    return false;
}

static void on_timer(uv_timer_t *t);

static void schedule(struct evq *q, int64_t ms)
{
    if (!q->closed)
        uv_timer_start(q->timer, on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void log_msg(enum log_level lvl, const char *event, const struct evq *q, const char *msg_id,
                    const struct rc_err *err)
{
    struct log_line l;

    log_begin(&l, lvl, wall_ms(), event);
    log_str(&l, "queue", azq_url_for_log(q->q));
    if (msg_id)
        log_str(&l, "message_id", msg_id);
    if (err && err->http_status)
        log_int(&l, "status", err->http_status);
    if (err)
        log_str(&l, "err", err->msg);
    log_end(&l);
}

static void msgop_free(struct msgop *m)
{
    free(m->id);
    free(m->pop);
    free(m->text);
    free(m);
}

static void on_deleted(void *arg, const struct azq_result *res)
{
    struct msgop *m = arg;
    struct evq *q = m->q;

    if (!q->closed) {
        if (res->err.code == 0 || res->err.code == -RC_ENOTFOUND)
            q->st.deleted++;
        else
            log_msg(LOG_WARN, "events.delete_failed", q, m->id, &res->err);
    }
    msgop_free(m);
    unref(q);
}

/* Deletes m's message (takes m). */
static void delete_msg(struct msgop *m)
{
    struct evq *q = m->q;
    struct rc_err err = {0};

    q->refs++;
    if (azq_delete(q->q, m->id, m->pop, on_deleted, m, &err) < 0) {
        log_msg(LOG_WARN, "events.delete_failed", q, m->id, &err);
        msgop_free(m);
        q->refs--;
    }
}

static void poison_put(struct msgop *m);

static void on_poison_created(void *arg, const struct azq_result *res)
{
    struct msgop *m = arg;
    struct evq *q = m->q;

    if (q->closed) {
        msgop_free(m);
        unref(q);
        return;
    }
    if (res->err.code && res->status != 409) {
        log_msg(LOG_WARN, "events.poison_failed", q, m->id, &res->err);
        msgop_free(m);
    } else {
        q->poison_ready = true;
        m->created = true;
        poison_put(m);
    }
    unref(q);
}

static void on_poison_put(void *arg, const struct azq_result *res)
{
    struct msgop *m = arg;
    struct evq *q = m->q;
    struct rc_err err = {0};

    if (q->closed) {
        msgop_free(m);
        unref(q);
        return;
    }
    if (res->err.code == -RC_ENOTFOUND && !m->created) {
        /* the poison queue does not exist yet */
        q->refs++;
        if (azq_create(q->poison, on_poison_created, m, &err) < 0) {
            q->refs--;
            log_msg(LOG_WARN, "events.poison_failed", q, m->id, &err);
            msgop_free(m);
        }
    } else if (res->err.code) {
        log_msg(LOG_WARN, "events.poison_failed", q, m->id, &res->err);
        msgop_free(m);
    } else {
        q->st.poisoned++;
        log_msg(LOG_WARN, "events.poisoned", q, m->id, NULL);
        delete_msg(m);
    }
    unref(q);
}

/* Puts m's text into the poison queue, then deletes the original (takes m). */
static void poison_put(struct msgop *m)
{
    struct evq *q = m->q;
    struct rc_err err = {0};

    q->refs++;
    if (azq_put(q->poison, m->text, -1, on_poison_put, m, &err) < 0) {
        q->refs--;
        log_msg(LOG_WARN, "events.poison_failed", q, m->id, &err);
        msgop_free(m);
    }
}

static void handle(struct evq *q, const struct azq_msg *msg)
{
    struct evq_event evs[EVQ_EVENTS_MAX];
    struct msgop *m;
    struct rc_err err = {0};
    int n = 0;
    bool poison = false;

    if (!msg->pop_receipt)
        return;
    m = calloc(1, sizeof(*m));
    if (!m)
        return;
    m->q = q;
    m->id = strdup(msg->id);
    m->pop = strdup(msg->pop_receipt);
    m->text = strdup(msg->text);
    if (!m->id || !m->pop || !m->text) {
        msgop_free(m);
        return;
    }
    if (msg->dequeue_count > q->o.max_dequeue) {
        rc_err_set(&err, -RC_ELIMIT, "", "dequeued %lld times", (long long)msg->dequeue_count);
        poison = true;
    } else {
        n = evq_decode(msg->text, evs, EVQ_EVENTS_MAX, &err);
        poison = n <= 0;
    }
    if (poison) {
        log_msg(LOG_WARN, "events.bad_message", q, msg->id, &err);
        poison_put(m);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (seen_check_add(q, evs[i].id)) {
            q->st.duplicates++;
            continue;
        }
        q->st.events++;
        if (q->o.on_event)
            q->o.on_event(q->o.arg, &evs[i]);
        if (q->closed)
            break; /* on_event freed us: the message is deleted by no one (it reappears) */
    }
    if (q->closed) {
        msgop_free(m);
        return;
    }
    delete_msg(m);
}

static void on_messages(void *arg, const struct azq_result *res)
{
    struct evq *q = arg;

    q->polling = false;
    if (q->closed) {
        unref(q);
        return;
    }
    if (res->err.code) {
        q->st.poll_failures++;
        if (q->backoff_ms == 0 || q->st.poll_failures % 10 == 1)
            log_msg(LOG_WARN, "events.poll_failed", q, NULL, &res->err);
        q->backoff_ms = q->backoff_ms ? q->backoff_ms * 2 : q->o.poll_ms;
        if (q->backoff_ms > EVQ_BACKOFF_MAX_MS)
            q->backoff_ms = EVQ_BACKOFF_MAX_MS;
        schedule(q, q->backoff_ms);
        unref(q);
        return;
    }
    q->backoff_ms = 0;
    q->st.messages += res->n_msgs;
    q->refs++; /* handle() may call on_event, which may call evq_free */
    for (size_t i = 0; i < res->n_msgs && !q->closed; i++)
        handle(q, &res->msgs[i]);
    if (!q->closed)
        schedule(q, res->n_msgs >= AZQ_MSGS_MAX ? 0 : q->o.poll_ms);
    unref(q);
    unref(q);
}

static void on_timer(uv_timer_t *t)
{
    struct evq *q = t->data;
    struct rc_err err = {0};

    if (q->closed || q->polling)
        return;
    q->st.polls++;
    q->refs++;
    q->polling = true;
    if (azq_get(q->q, AZQ_MSGS_MAX, q->o.visibility_s, on_messages, q, &err) < 0) {
        q->polling = false;
        q->refs--;
        q->st.poll_failures++;
        log_msg(LOG_WARN, "events.poll_failed", q, NULL, &err);
        q->backoff_ms = q->backoff_ms ? q->backoff_ms * 2 : q->o.poll_ms;
        if (q->backoff_ms > EVQ_BACKOFF_MAX_MS)
            q->backoff_ms = EVQ_BACKOFF_MAX_MS;
        uv_timer_start(q->timer, on_timer, (uint64_t)q->backoff_ms, 0);
    }
}

struct evq *evq_new(uv_loop_t *loop, struct http *h, struct az_cred *storage_cred,
                    const char *queue_url, const struct evq_opts *opts, struct rc_err *err)
{
    struct evq *q = calloc(1, sizeof(*q));
    const char *query;
    size_t qlen;

    if (!q) {
        rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        return NULL;
    }
    q->loop = loop;
    q->h = h;
    q->cred = storage_cred;
    q->refs = 1;
    if (opts)
        q->o = *opts;
    if (q->o.poll_ms <= 0)
        q->o.poll_ms = 2000;
    if (q->o.visibility_s <= 0)
        q->o.visibility_s = 60;
    if (q->o.max_dequeue <= 0)
        q->o.max_dequeue = 5;
    q->o.conn = NULL;
    if (opts && opts->conn && !(q->conn = strdup(opts->conn)))
        goto nomem;
    q->seen = calloc(EVQ_SEEN_MAX, sizeof(*q->seen));
    if (!q->seen)
        goto nomem;
    if (!queue_url || strlen(queue_url) >= sizeof(q->url)) {
        rc_err_set(err, -RC_EINVAL, "--events-queue", "missing or too long URL");
        goto fail;
    }
    copy_str(q->url, sizeof(q->url), queue_url);
    q->q = azq_new_url(h, storage_cred, queue_url, q->conn, err);
    if (!q->q)
        goto fail;
    /* <queue>-poison next to it, with the same SAS if any */
    query = strchr(queue_url, '?');
    qlen = query ? (size_t)(query - queue_url) : strlen(queue_url);
    while (qlen && queue_url[qlen - 1] == '/')
        qlen--;
    {
        /* Azure's queue names have at most 63 characters: a longer
         * "<queue>-poison" is cut to its first 56 before "-poison" (and loses
         * the '-' it may then end in, as "--" is not allowed) */
        size_t slash = qlen, name_len;

        while (slash && queue_url[slash - 1] != '/')
            slash--;
        name_len = qlen - slash;
        if (name_len > 63 - 7) {
            name_len = 63 - 7;
            while (name_len && queue_url[slash + name_len - 1] == '-')
                name_len--;
            qlen = slash + name_len;
        }
    }
    snprintf(q->poison_url, sizeof(q->poison_url), "%.*s-poison%s", (int)qlen, queue_url,
             query ? query : "");
    q->poison = azq_new_url(h, storage_cred, q->poison_url, q->conn, err);
    if (!q->poison)
        goto fail;
    q->timer = calloc(1, sizeof(*q->timer));
    if (!q->timer)
        goto nomem;
    uv_timer_init(loop, q->timer);
    q->timer->data = q;
    uv_timer_start(q->timer, on_timer, 0, 0);
    return q;
nomem:
    rc_err_set(err, -RC_ENOMEM, "", "out of memory");
fail:
    q->refs = 1;
    unref(q);
    return NULL;
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

void evq_free(struct evq *q)
{
    if (!q || q->closed)
        return;
    q->closed = true;
    uv_timer_stop(q->timer);
    uv_close((uv_handle_t *)q->timer, free_timer);
    q->timer = NULL;
    unref(q);
}

void evq_stats(const struct evq *q, struct evq_stats *ret)
{
    *ret = q->st;
}
