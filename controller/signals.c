/* signals.c - see signals.h. */
#include "signals.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azq.h"
#include "log.h"
#include "rc_util.h"

#define POOL_KEY_MAX 320

struct strv {
    char **v;
    size_t n;
};

struct poller {
    struct signals *s; /* NULL: orphaned (removed while a request was in flight) */
    char pool[POOL_KEY_MAX];
    char ns[256];
    bool is_busy; /* the busy source, else the metric */
    char *config; /* identity of the configuration, for signals_sync */
    enum rc_signal_kind kind;
    char *url; /* HTTP url or queue account URL */
    char *queue;
    char *pointer;
    char *secret_name, *secret_key; /* NULL name: none */
    uint64_t interval_ms;
    uint64_t next_ms;
    bool inflight;
    bool seen; /* signals_sync mark */
    bool poke; /* a poke is owed */
    bool has_value;
    int64_t value;
    uint64_t last_ok_ms;
    bool busy_known;
    struct strv set;  /* sorted, unique */
    struct strv done; /* pending job_done, oldest first */
    int failures;
    char *buf; /* HTTP body being received */
    size_t len;
    bool oversize;
};

struct signals {
    uv_loop_t *loop;
    struct http *h;
    struct az_cred *cred;
    struct signals_opts o;
    uv_timer_t *timer;
    struct poller **p;
    size_t n, cap;
    uint64_t rng;
    bool in_timer;
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- string vectors ---- */

static void strv_clear(struct strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

static bool strv_has(const struct strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i], s) == 0)
            return true;
    return false;
}

static int strv_add(struct strv *v, const char *s)
{
    char **nv = realloc(v->v, (v->n + 1) * sizeof(*nv));

    if (!nv)
        return -RC_ENOMEM;
    v->v = nv;
    v->v[v->n] = strdup(s);
    if (!v->v[v->n])
        return -RC_ENOMEM;
    v->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_sort_unique(struct strv *v)
{
    size_t o = 0;

    if (v->n == 0)
        return;
    qsort(v->v, v->n, sizeof(v->v[0]), cmp_str);
    for (size_t i = 0; i < v->n; i++) {
        if (o > 0 && strcmp(v->v[o - 1], v->v[i]) == 0) {
            free(v->v[i]);
            continue;
        }
        v->v[o++] = v->v[i];
    }
    v->n = o;
}

static bool strv_equal(const struct strv *a, const struct strv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]))
            return false;
    return true;
}

/* Adds s to the pending job_done list (no duplicates, oldest dropped past the cap). */
static int done_add(struct strv *d, const char *s)
{
    if (strv_has(d, s))
        return 0;
    if (d->n >= SIGNALS_JOB_DONE_MAX) {
        free(d->v[0]);
        memmove(d->v, d->v + 1, (d->n - 1) * sizeof(d->v[0]));
        d->n--;
    }
    return strv_add(d, s);
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    memset(s, 0, strlen(s));
    free(s);
}

/* ---- pure helpers ---- */

bool signals_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > SIGNALS_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

int signals_json_pointer(const json_t *doc, const char *ptr, const json_t **ret, struct rc_err *err)
{
    const json_t *cur = doc;
    const char *p = ptr ? ptr : "";

    *ret = NULL;
    if (*p && *p != '/')
        return rc_err_set(err, -RC_EINVAL, "jsonPointer", "must be empty or start with '/'");
    while (*p == '/') {
        char tok[512];
        size_t n = 0;

        p++;
        while (*p && *p != '/') {
            char c = *p++;

            if (c == '~') {
                if (*p == '0')
                    c = '~';
                else if (*p == '1')
                    c = '/';
                else
                    return rc_err_set(err, -RC_EINVAL, "jsonPointer",
                                      "'~' must be followed by 0 or 1");
                p++;
            }
            if (n + 1 >= sizeof(tok))
                return rc_err_set(err, -RC_EINVAL, "jsonPointer", "reference token too long");
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, n);
        } else if (json_is_array(cur)) {
            size_t idx = 0;

            if (n == 0 || (n > 1 && tok[0] == '0') || n > 9)
                cur = NULL;
            for (size_t i = 0; cur && i < n; i++) {
                if (!isdigit((unsigned char)tok[i]))
                    cur = NULL;
                else
                    idx = idx * 10 + (size_t)(tok[i] - '0');
            }
            if (cur)
                cur = json_array_get(cur, idx);
        } else {
            cur = NULL;
        }
        if (!cur)
            return rc_err_set(err, -RC_ENOTFOUND, "jsonPointer", "nothing at the pointer");
    }
    *ret = cur;
    return 0;
}

int signals_metric_value(const json_t *v, int64_t *ret, struct rc_err *err)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i < 0 || i > SIGNALS_METRIC_MAX)
            return rc_err_set(err, -RC_EPROTO, "", "metric %lld out of range 0..10^15",
                              (long long)i);
        *ret = (int64_t)i;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);

        if (!isfinite(d) || d < 0 || d > (double)SIGNALS_METRIC_MAX)
            return rc_err_set(err, -RC_EPROTO, "", "metric out of range 0..10^15");
        *ret = (int64_t)floor(d);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        int64_t x = 0;

        if (n == 0 || n > 16)
            return rc_err_set(err, -RC_EPROTO, "", "metric string is not a number");
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)s[i]))
                return rc_err_set(err, -RC_EPROTO, "", "metric string is not a number");
            x = x * 10 + (s[i] - '0');
        }
        if (x > SIGNALS_METRIC_MAX)
            return rc_err_set(err, -RC_EPROTO, "", "metric out of range 0..10^15");
        *ret = x;
        return 0;
    }
    return rc_err_set(err, -RC_EPROTO, "", "the value at jsonPointer is not a number");
}

static bool token_char(int c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

int signals_parse_headers(const char *text, char ***ret, size_t *ret_n, struct rc_err *err)
{
    struct strv v = {0};
    const char *p = text;
    int line = 0, r = 0;

    *ret = NULL;
    *ret_n = 0;
    while (p && *p && r == 0) {
        const char *end = strchr(p, '\n'), *colon, *val;
        size_t len, nlen, vlen;
        char buf[8192 + 256];

        line++;
        if (!end)
            end = p + strlen(p);
        len = (size_t)(end - p);
        if (len && p[len - 1] == '\r')
            len--;
        while (len && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        if (len == 0 || *p == '#')
            goto next;
        colon = memchr(p, ':', len);
        nlen = colon ? (size_t)(colon - p) : 0;
        for (size_t i = 0; i < nlen; i++)
            if (!token_char((unsigned char)p[i]))
                nlen = 0;
        if (nlen == 0) {
            r = rc_err_set(err, -RC_EINVAL, "headersSecretRef", "line %d is not \"Name: value\"",
                           line);
            break;
        }
        val = colon + 1;
        vlen = (size_t)(p + len - val);
        while (vlen && (*val == ' ' || *val == '\t')) {
            val++;
            vlen--;
        }
        while (vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
            vlen--;
        for (size_t i = 0; i < vlen; i++)
            if ((unsigned char)val[i] < 0x20 && val[i] != '\t') {
                r = rc_err_set(err, -RC_EINVAL, "headersSecretRef",
                               "line %d has a control character", line);
                goto out;
            }
        if (nlen > 200 || vlen > 8192) {
            r = rc_err_set(err, -RC_ELIMIT, "headersSecretRef", "line %d is too long", line);
            break;
        }
        if (v.n == SIGNALS_HEADERS_MAX) {
            r = rc_err_set(err, -RC_ELIMIT, "headersSecretRef", "more than %d headers",
                           SIGNALS_HEADERS_MAX);
            break;
        }
        snprintf(buf, sizeof(buf), "%.*s: %.*s", (int)nlen, p, (int)vlen, val);
        r = strv_add(&v, buf);
        memset(buf, 0, sizeof(buf));
        if (r < 0)
            rc_err_set(err, r, "", "out of memory");
    next:
        p = *end ? end + 1 : end;
    }
out:
    if (r < 0) {
        for (size_t i = 0; i < v.n; i++)
            wipe_free(v.v[i]);
        free(v.v);
        return r;
    }
    *ret = v.v;
    *ret_n = v.n;
    return 0;
}

int signals_message_names(const char *text, char ret[2][SIGNALS_NAME_MAX + 1])
{
    const char *s = text;
    size_t n = strlen(text), dlen = 0;
    unsigned char dec[SIGNALS_NAME_MAX + 4];
    int k = 0;

    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (signals_name_ok(s, n)) {
        memcpy(ret[k], s, n);
        ret[k++][n] = '\0';
    }
    if (n <= 4 * ((SIGNALS_NAME_MAX + 2) / 3) &&
        azq_b64_decode(s, n, dec, sizeof(dec), &dlen) == 0 &&
        signals_name_ok((const char *)dec, dlen)) {
        memcpy(ret[k], dec, dlen);
        ret[k][dlen] = '\0';
        if (k == 0 || strcmp(ret[0], ret[k]))
            k++;
    }
    return k;
}

/* ---- pollers ---- */

static void poller_free(struct poller *p)
{
    if (!p)
        return;
    free(p->config);
    free(p->url);
    free(p->queue);
    free(p->pointer);
    free(p->secret_name);
    free(p->secret_key);
    strv_clear(&p->set);
    strv_clear(&p->done);
    free(p->buf);
    free(p);
}

static uint64_t rnd(struct signals *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static uint64_t jittered(struct signals *s, uint64_t ms)
{
    uint64_t spread = ms / 5; /* +-10% */

    return ms - ms / 10 + (spread ? rnd(s) % (spread + 1) : 0);
}

static uint64_t stale_ms(const struct poller *p)
{
    uint64_t unit = (uint64_t)p->s->o.ms_per_second;
    uint64_t st = SIGNALS_STALE_POLLS * p->interval_ms;

    return st > SIGNALS_STALE_MIN_S * unit ? st : SIGNALS_STALE_MIN_S * unit;
}

/* URL without its query string, for logs. */
static void url_for_log(const char *url, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s", (int)strcspn(url ? url : "", "?"), url ? url : "");
}

static const char *role(const struct poller *p)
{
    return p->is_busy ? "busy" : "metric";
}

static void log_poll_error(struct poller *p, const struct rc_err *err)
{
    struct log_line l;
    char u[512];

    if (p->failures != 1 && p->failures % 20 != 0)
        return;
    url_for_log(p->url, u, sizeof(u));
    log_begin(&l, LOG_WARN, wall_ms(), "signals.poll_failed");
    log_str(&l, "pool", p->pool);
    log_str(&l, "source", role(p));
    log_str(&l, "kind", p->kind == RC_SIGNAL_QUEUE ? "azureQueue" : "http");
    log_str(&l, "url", u);
    if (p->queue)
        log_str(&l, "queue", p->queue);
    log_int(&l, "failures", p->failures);
    if (err->http_status)
        log_int(&l, "status", err->http_status);
    log_str(&l, "err", err->msg);
    log_end(&l);
}

static void check_stale(struct poller *p, uint64_t now)
{
    struct log_line l;

    if (p->is_busy || !p->has_value || now < p->last_ok_ms + stale_ms(p))
        return;
    p->has_value = false;
    p->poke = true;
    log_begin(&l, LOG_WARN, wall_ms(), "signals.metric_dropped");
    log_str(&l, "pool", p->pool);
    log_int(&l, "failures", p->failures);
    log_word(&l, "no fresh value; the pool holds its size");
    log_end(&l);
}

static void failed(struct poller *p, const struct rc_err *err)
{
    p->failures++;
    log_poll_error(p, err);
    check_stale(p, uv_now(p->s->loop));
}

static void succeeded(struct poller *p)
{
    if (p->failures) {
        struct log_line l;

        log_begin(&l, LOG_INFO, wall_ms(), "signals.poll_recovered");
        log_str(&l, "pool", p->pool);
        log_str(&l, "source", role(p));
        log_int(&l, "failures", p->failures);
        log_end(&l);
    }
    p->failures = 0;
    p->last_ok_ms = uv_now(p->s->loop);
}

static void set_metric(struct poller *p, int64_t v)
{
    if (!p->has_value || p->value != v)
        p->poke = true;
    p->has_value = true;
    p->value = v;
    succeeded(p);
}

/* names: the busy set just read (taken); complete false: possibly partial. */
static void set_busy(struct poller *p, struct strv *names, bool complete)
{
    struct strv *prev = &p->set;
    int r = 0;

    if (!complete)
        for (size_t i = 0; i < prev->n && r == 0; i++)
            r = strv_add(names, prev->v[i]);
    strv_sort_unique(names);
    if (r < 0) {
        struct rc_err err = {0};

        strv_clear(names);
        rc_err_set(&err, -RC_ENOMEM, "", "out of memory");
        failed(p, &err);
        return;
    }
    if (p->busy_known) {
        for (size_t i = 0; i < prev->n; i++) {
            if (strv_has(names, prev->v[i]))
                continue;
            if (done_add(&p->done, prev->v[i]) == 0)
                p->poke = true;
        }
    }
    if (!p->busy_known || !strv_equal(prev, names))
        p->poke = true;
    strv_clear(prev);
    *prev = *names;
    names->v = NULL;
    names->n = 0;
    p->busy_known = true;
    succeeded(p);
}

static void flush_pokes(struct signals *s)
{
    char **keys;
    size_t n = 0;

    if (!s->o.poke) {
        for (size_t i = 0; i < s->n; i++)
            s->p[i]->poke = false;
        return;
    }
    keys = calloc(s->n ? s->n : 1, sizeof(*keys));
    if (!keys)
        return; /* pokes stay owed; the next pass delivers them */
    for (size_t i = 0; i < s->n; i++) {
        if (!s->p[i]->poke)
            continue;
        s->p[i]->poke = false;
        keys[n] = strdup(s->p[i]->pool);
        if (keys[n])
            n++;
    }
    /* the callback may call back into signals (even signals_sync) */
    for (size_t i = 0; i < n; i++) {
        bool dup = false;

        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(keys[i], keys[j]) == 0;
        if (!dup)
            s->o.poke(s->o.poke_arg, keys[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static void reschedule(struct signals *s);

/* ---- HTTP sources ---- */

/* Streams a 2xx body into p->buf, at most SIGNALS_BODY_MAX bytes. */
static int on_http_data(void *arg, const char *data, size_t len)
{
    struct poller *p = arg;
    char *b;

    if (p->len + len > SIGNALS_BODY_MAX) {
        p->oversize = true;
        return 1;
    }
    b = realloc(p->buf, p->len + len + 1);
    if (!b) {
        p->oversize = true;
        return 1;
    }
    p->buf = b;
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    p->buf[p->len] = '\0';
    return 0;
}

static void on_http(void *arg, const struct http_response *resp)
{
    struct poller *p = arg;
    struct signals *s;
    struct rc_err err = {0};
    json_error_t jerr;
    json_t *doc = NULL;
    const json_t *v = NULL;

    p->inflight = false;
    if (!p->s) {
        poller_free(p);
        return;
    }
    if (p->oversize) {
        rc_err_set(&err, -RC_ELIMIT, "", "response over %d bytes", SIGNALS_BODY_MAX);
    } else if (resp->status == 0) {
        err = resp->err;
        if (!err.code)
            rc_err_set(&err, -RC_ETRANSIENT, "", "no response");
    } else if (resp->status < 200 || resp->status > 299) {
        rc_err_set(&err, -RC_ETRANSIENT, "", "HTTP %ld", resp->status);
        err.http_status = (int)resp->status;
    } else if (!(doc = json_loadb(p->buf ? p->buf : "", p->len, 0, &jerr))) {
        rc_err_set(&err, -RC_EPROTO, "", "response is not JSON: %s", jerr.text);
    } else if (signals_json_pointer(doc, p->pointer, &v, &err) == 0) {
        if (!p->is_busy) {
            int64_t x;

            if (signals_metric_value(v, &x, &err) == 0)
                set_metric(p, x);
        } else if (!json_is_array(v)) {
            rc_err_set(&err, -RC_EPROTO, "", "the value at jsonPointer is not an array");
        } else if (json_array_size(v) > SIGNALS_BUSY_MAX) {
            rc_err_set(&err, -RC_ELIMIT, "", "more than %d busy instances", SIGNALS_BUSY_MAX);
        } else {
            struct strv names = {0};
            size_t i;
            const json_t *e;

            json_array_foreach(v, i, e)
            {
                const char *t = json_string_value(e);

                if (!t || !signals_name_ok(t, strlen(t))) {
                    rc_err_set(&err, -RC_EPROTO, "", "busy[%zu] is not an instance name", i);
                    break;
                }
                if (strv_add(&names, t) < 0) {
                    rc_err_set(&err, -RC_ENOMEM, "", "out of memory");
                    break;
                }
            }
            if (!err.code)
                set_busy(p, &names, true);
            strv_clear(&names);
        }
    }
    json_decref(doc);
    free(p->buf);
    p->buf = NULL;
    p->len = 0;
    p->oversize = false;
    if (err.code)
        failed(p, &err);
    s = p->s; /* p may be gone once a poke ran */
    reschedule(s);
    flush_pokes(s);
}

static int poll_http(struct poller *p, struct rc_err *err)
{
    char *secret = NULL, **hdrs = NULL;
    size_t n = 0;
    const char **all = NULL;
    int r = 0;

    if (p->secret_name) {
        if (!p->s->o.secret)
            return rc_err_set(err, -RC_ENOTFOUND, "headersSecretRef", "no secret store");
        r = p->s->o.secret(p->s->o.secret_arg, p->ns, p->secret_name, p->secret_key, &secret);
        if (r < 0)
            return rc_err_set(err, r, "headersSecretRef", "secret %s/%s key %s not readable", p->ns,
                              p->secret_name, p->secret_key);
        r = signals_parse_headers(secret, &hdrs, &n, err);
        wipe_free(secret);
        if (r < 0)
            return r;
    }
    all = calloc(n + 1, sizeof(*all));
    if (!all) {
        r = rc_err_set(err, -RC_ENOMEM, "", "out of memory");
        goto out;
    }
    all[0] = "Accept: application/json";
    for (size_t i = 0; i < n; i++)
        all[i + 1] = hdrs[i];
    {
        struct http_req_opts o = {0};

        o.timeout_ms = p->s->o.timeout_ms;
        o.on_data = on_http_data;
        o.data_arg = p;
        free(p->buf);
        p->buf = NULL;
        p->len = 0;
        p->oversize = false;
        r = http_request_ex(p->s->h, "GET", p->url, all, n + 1, NULL, 0, &o, on_http, p, NULL, err);
    }
    if (r == 0)
        p->inflight = true;
out:
    free(all);
    for (size_t i = 0; i < n; i++)
        wipe_free(hdrs[i]);
    free(hdrs);
    return r;
}

/* ---- queue sources ---- */

static void on_queue(void *arg, const struct azq_result *res)
{
    struct poller *p = arg;
    struct signals *s;
    struct rc_err err = res->err;

    p->inflight = false;
    if (!p->s) {
        poller_free(p);
        return;
    }
    if (!err.code && !p->is_busy) {
        set_metric(p, res->count > SIGNALS_METRIC_MAX ? SIGNALS_METRIC_MAX : res->count);
    } else if (!err.code) {
        struct strv names = {0};

        for (size_t i = 0; i < res->n_msgs && !err.code; i++) {
            char nm[2][SIGNALS_NAME_MAX + 1];
            int k = signals_message_names(res->msgs[i].text, nm);

            for (int j = 0; j < k && !err.code; j++)
                if (strv_add(&names, nm[j]) < 0)
                    rc_err_set(&err, -RC_ENOMEM, "", "out of memory");
        }
        if (!err.code)
            set_busy(p, &names, res->n_msgs < AZQ_MSGS_MAX);
        strv_clear(&names);
    }
    if (err.code)
        failed(p, &err);
    s = p->s; /* p may be gone once a poke ran */
    reschedule(s);
    flush_pokes(s);
}

static int poll_queue(struct poller *p, struct rc_err *err)
{
    char *conn = NULL;
    struct azq *q;
    int r;

    if (p->secret_name) {
        if (!p->s->o.secret)
            return rc_err_set(err, -RC_ENOTFOUND, "credentialsSecretRef", "no secret store");
        r = p->s->o.secret(p->s->o.secret_arg, p->ns, p->secret_name, p->secret_key, &conn);
        if (r < 0)
            return rc_err_set(err, r, "credentialsSecretRef", "secret %s/%s key %s not readable",
                              p->ns, p->secret_name, p->secret_key);
    }
    q = azq_new(p->s->h, p->s->cred, p->url, p->queue, conn, err);
    wipe_free(conn);
    if (!q)
        return err->code ? err->code : -RC_EINVAL;
    azq_set_timeout(q, p->s->o.timeout_ms);
    r = p->is_busy ? azq_peek(q, AZQ_MSGS_MAX, on_queue, p, err) : azq_count(q, on_queue, p, err);
    azq_free(q);
    if (r == 0)
        p->inflight = true;
    return r;
}

static void poll_one(struct poller *p)
{
    struct rc_err err = {0};
    int r;

    if (p->inflight)
        return;
    r = p->kind == RC_SIGNAL_HTTP ? poll_http(p, &err) : poll_queue(p, &err);
    if (r < 0) {
        if (!err.code)
            rc_err_set(&err, r, "", "cannot start the poll");
        failed(p, &err);
    }
}

/* ---- timer ---- */

static void on_timer(uv_timer_t *t)
{
    struct signals *s = t->data;
    uint64_t now = uv_now(s->loop);

    s->in_timer = true;
    for (size_t i = 0; i < s->n; i++) {
        struct poller *p = s->p[i];

        check_stale(p, now);
        if (!p->inflight && now >= p->next_ms) {
            p->next_ms = now + jittered(s, p->interval_ms);
            poll_one(p);
        }
    }
    s->in_timer = false;
    reschedule(s);
    flush_pokes(s);
}

static void reschedule(struct signals *s)
{
    uint64_t now = uv_now(s->loop), due = UINT64_MAX;

    if (s->in_timer)
        return;
    for (size_t i = 0; i < s->n; i++) {
        struct poller *p = s->p[i];

        if (!p->inflight && p->next_ms < due)
            due = p->next_ms;
        if (!p->is_busy && p->has_value && p->last_ok_ms + stale_ms(p) < due)
            due = p->last_ok_ms + stale_ms(p);
    }
    if (due == UINT64_MAX) {
        uv_timer_stop(s->timer);
        return;
    }
    uv_timer_start(s->timer, on_timer, due > now ? due - now : 0, 0);
}

/* ---- API ---- */

struct signals *signals_new(uv_loop_t *loop, struct http *h, struct az_cred *storage_cred,
                            const struct signals_opts *opts)
{
    struct signals *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->timer = calloc(1, sizeof(*s->timer));
    if (!s->timer) {
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->h = h;
    s->cred = storage_cred;
    if (opts)
        s->o = *opts;
    if (s->o.ms_per_second <= 0)
        s->o.ms_per_second = 1000;
    if (s->o.timeout_ms <= 0)
        s->o.timeout_ms = SIGNALS_TIMEOUT_MS;
    s->rng = uv_hrtime() | 1;
    uv_timer_init(loop, s->timer);
    s->timer->data = s;
    return s;
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

/* Removes p from s (freeing it, or orphaning it while its request runs). */
static void drop(struct poller *p)
{
    if (p->inflight)
        p->s = NULL;
    else
        poller_free(p);
}

void signals_free(struct signals *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        drop(s->p[i]);
    free(s->p);
    uv_timer_stop(s->timer);
    uv_close((uv_handle_t *)s->timer, free_timer);
    free(s);
}

static struct poller *find(struct signals *s, const char *pool, bool busy)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i]->is_busy == busy && strcmp(s->p[i]->pool, pool) == 0)
            return s->p[i];
    return NULL;
}

static char *config_of(const struct rc_signal *sig, bool busy)
{
    char buf[4096];
    const struct rc_secret_ref *ref =
        sig->kind == RC_SIGNAL_QUEUE ? &sig->queue.credentials : &sig->http.headers;
    int n;

    if (sig->kind == RC_SIGNAL_QUEUE)
        n = snprintf(buf, sizeof(buf), "%d|q|%s|%s|%s|%s|%d", busy, sig->queue.account_url,
                     sig->queue.queue, ref->name ? ref->name : "", ref->key ? ref->key : "",
                     sig->poll_seconds);
    else
        n = snprintf(buf, sizeof(buf), "%d|h|%s|%s|%s|%s|%d", busy, sig->http.url,
                     sig->http.json_pointer ? sig->http.json_pointer : "",
                     ref->name ? ref->name : "", ref->key ? ref->key : "", sig->poll_seconds);
    return n < 0 || (size_t)n >= sizeof(buf) ? NULL : strdup(buf);
}

static struct poller *make(struct signals *s, const char *pool, const char *ns,
                           const struct rc_signal *sig, bool busy, char *config)
{
    struct poller *p = calloc(1, sizeof(*p));
    const struct rc_secret_ref *ref =
        sig->kind == RC_SIGNAL_QUEUE ? &sig->queue.credentials : &sig->http.headers;
    uint64_t first;

    if (!p)
        return NULL;
    p->s = s;
    p->config = config;
    snprintf(p->pool, sizeof(p->pool), "%s", pool);
    snprintf(p->ns, sizeof(p->ns), "%s", ns);
    p->is_busy = busy;
    p->kind = sig->kind;
    p->url = rc_strdup(sig->kind == RC_SIGNAL_QUEUE ? sig->queue.account_url : sig->http.url);
    p->queue = sig->kind == RC_SIGNAL_QUEUE ? rc_strdup(sig->queue.queue) : NULL;
    p->pointer = sig->kind == RC_SIGNAL_HTTP ? rc_strdup(sig->http.json_pointer) : NULL;
    if (ref->name) {
        p->secret_name = rc_strdup(ref->name);
        p->secret_key = rc_strdup(ref->key ? ref->key : "");
    }
    p->interval_ms =
        (uint64_t)(sig->poll_seconds > 0 ? sig->poll_seconds : SIGNALS_DEFAULT_POLL_S) *
        (uint64_t)s->o.ms_per_second;
    first = p->interval_ms < (uint64_t)s->o.ms_per_second ? p->interval_ms
                                                          : (uint64_t)s->o.ms_per_second;
    p->next_ms = uv_now(s->loop) + (first ? rnd(s) % first : 0);
    if (!p->url || (sig->kind == RC_SIGNAL_QUEUE && !p->queue) ||
        (sig->http.json_pointer && sig->kind == RC_SIGNAL_HTTP && !p->pointer) ||
        (ref->name && (!p->secret_name || !p->secret_key))) {
        p->config = NULL;
        poller_free(p);
        return NULL;
    }
    return p;
}

/* Ensures the poller (pool, busy) matches sig; marks it seen. */
static int want_one(struct signals *s, const char *pool, const char *ns,
                    const struct rc_signal *sig, bool busy)
{
    struct poller *p = find(s, pool, busy);
    char *config;

    if (sig->kind != RC_SIGNAL_QUEUE && sig->kind != RC_SIGNAL_HTTP)
        return 0;
    config = config_of(sig, busy);
    if (!config)
        return -RC_ENOMEM;
    if (p && strcmp(p->config, config) == 0) {
        free(config);
        p->seen = true;
        return 0;
    }
    if (p) {
        /* reconfigured: start afresh (values of the old source mean nothing) */
        for (size_t i = 0; i < s->n; i++)
            if (s->p[i] == p) {
                s->p[i] = s->p[--s->n];
                break;
            }
        drop(p);
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        struct poller **v = realloc(s->p, cap * sizeof(*v));

        if (!v) {
            free(config);
            return -RC_ENOMEM;
        }
        s->p = v;
        s->cap = cap;
    }
    p = make(s, pool, ns, sig, busy, config);
    if (!p) {
        free(config);
        return -RC_ENOMEM;
    }
    p->seen = true;
    s->p[s->n++] = p;
    return 0;
}

int signals_sync(struct signals *s, const struct rc_desired *want)
{
    int r = 0;
    size_t o = 0;

    for (size_t i = 0; i < s->n; i++)
        s->p[i]->seen = false;
    for (size_t i = 0; i < want->n_pools && r == 0; i++) {
        const struct rc_pool *pl = &want->pools[i];
        char pool[POOL_KEY_MAX];

        if (pl->meta.deleting || !pl->meta.namespace || !pl->meta.name)
            continue;
        snprintf(pool, sizeof(pool), "%s/%s", pl->meta.namespace, pl->meta.name);
        if (pl->spec.autoscale.enabled)
            r = want_one(s, pool, pl->meta.namespace, &pl->spec.autoscale.metric, false);
        if (r == 0)
            r = want_one(s, pool, pl->meta.namespace, &pl->spec.busy, true);
    }
    if (r < 0) {
        reschedule(s);
        return r;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->p[i]->seen)
            s->p[o++] = s->p[i];
        else
            drop(s->p[i]);
    }
    s->n = o;
    reschedule(s);
    return 0;
}

static int copy_strv(const struct strv *v, char ***ret, size_t *ret_n)
{
    char **out = calloc(v->n ? v->n : 1, sizeof(*out));

    if (!out)
        return -RC_ENOMEM;
    for (size_t i = 0; i < v->n; i++) {
        out[i] = strdup(v->v[i]);
        if (!out[i]) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return -RC_ENOMEM;
        }
    }
    *ret = out;
    *ret_n = v->n;
    return 0;
}

int signals_fill(struct signals *s, const char *pool, struct rc_obs_pool *obs)
{
    struct poller *m = find(s, pool, false), *b = find(s, pool, true);
    int flags = 0;

    if (m) {
        flags |= SIGNALS_HAS_METRIC;
        obs->has_signal = m->has_value;
        obs->signal = m->has_value ? m->value : 0;
    }
    if (b) {
        char **v = NULL, **d;
        size_t n = 0;

        flags |= SIGNALS_HAS_BUSY;
        if (!b->busy_known)
            flags |= SIGNALS_BUSY_UNKNOWN;
        if (copy_strv(&b->set, &v, &n) < 0)
            return -RC_ENOMEM;
        for (size_t i = 0; i < obs->n_busy; i++)
            free(obs->busy[i]);
        free(obs->busy);
        obs->busy = v;
        obs->n_busy = n;
        if (b->done.n) {
            d = realloc(obs->job_done, (obs->n_job_done + b->done.n) * sizeof(*d));
            if (!d)
                return -RC_ENOMEM;
            obs->job_done = d;
            /* ownership of the strings moves to obs */
            memcpy(d + obs->n_job_done, b->done.v, b->done.n * sizeof(*d));
            obs->n_job_done += b->done.n;
            free(b->done.v);
            b->done.v = NULL;
            b->done.n = 0;
        }
    }
    return flags;
}

int signals_job_done_return(struct signals *s, const char *pool, char *const *names, size_t n)
{
    struct poller *b = find(s, pool, true);

    if (!b)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (names[i] && done_add(&b->done, names[i]) < 0)
            return -RC_ENOMEM;
    return 0;
}

void signals_poll_now(struct signals *s, const char *pool)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->p[i]->pool, pool) == 0 && !s->p[i]->inflight)
            s->p[i]->next_ms = uv_now(s->loop);
    reschedule(s);
}

size_t signals_count(const struct signals *s)
{
    return s ? s->n : 0;
}
