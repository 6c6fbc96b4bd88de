/*
 * az_arm.c - see az_arm.h and az.h.
 *
 * Every operation is a small state machine (struct op):
 *
 *   WAIT_TOKEN -> [bucket paused? wait] -> SEND -> response
 *     LIST:  200 -> append items; nextLink? -> SEND page : DONE
 *     GET:   DONE
 *     WRITE: 200/201 without an operation header, 204 -> DONE
 *            201/202 + Azure-AsyncOperation -> POLL_ASYNC (200 + status body)
 *            202 + Location -> POLL_LOCATION (202 while running, then the result)
 *            with AZ_WRITE_ACCEPT: PUT/PATCH 200/201 + an operation, POST/DELETE
 *            202 + an operation -> DONE (accepted, not followed)
 *     POLL_ASYNC Succeeded: PUT/PATCH -> FINAL_GET of the resource; others DONE
 *     POLL_ASYNC Failed/Canceled -> DONE with the operation's error (terminal)
 *   Retries: transport errors, 408, 429, 5xx, and a 401 once (token refetch),
 *   up to AZ_ATTEMPTS_MAX per request, after Retry-After or a doubling backoff.
 *   A 429 pauses the whole bucket (reads/writes/deletes) until Retry-After: no
 *   request of any operation is sent to a paused bucket.
 *
 * Polling and nextLink URLs must point at the endpoint's host; anything else
 * is refused (the bearer token never goes to another host).
 */
#include "az_arm.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_util.h"

#define URL_MAX         8192
#define POLL_DEFAULT_MS AZ_POLL_DEFAULT_MS
#define POLL_MAX_MS     60000
#define PACE_THRESHOLD  2
#define TOKEN_HDR_MAX   (16384 + 64)

enum op_kind { OP_LIST = 0, OP_GET, OP_WRITE };
enum op_phase { PH_SEND = 0, PH_POLL_ASYNC, PH_POLL_LOCATION, PH_FINAL_GET };

struct az_arm {
    uv_loop_t *loop;
    struct http *http;
    struct az_cred *cred;
    char *endpoint;
    char host[256];                    /* scheme://host[:port] of the endpoint */
    uint64_t paused_until[AZ_BUCKETS]; /* uv_now() ms */
    struct az_arm_stats stats;
    int64_t backoff_ms;
    uint64_t seq;
    struct op *ops; /* pending, doubly linked */
    bool closing;
};

struct op {
    struct az_arm *a;
    enum op_kind kind;
    enum op_phase phase;
    const char *method; /* of the current request */
    const char *orig_method;
    char *url;          /* current request URL */
    char *resource_url; /* original URL (final GET) */
    char *body;         /* request body, serialised */
    size_t body_len;
    int attempts; /* of the current request */
    int total_attempts;
    bool reauthed;
    bool accept;      /* AZ_WRITE_ACCEPT */
    uint64_t started; /* uv_now() at start, for the LRO deadline */
    json_t *items;    /* LIST: accumulated value[] */
    json_t *final;    /* last parsed body */
    struct az_result res;
    char correlation[64];
    uv_timer_t timer;
    bool timer_live;
    az_cb cb;
    void *arg;
    struct op *prev, *next;
};

/* ---- helpers shared with tests (az.h) ---- */

enum az_bucket az_bucket_of(const char *method)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return AZ_BUCKET_READS;
    if (strcmp(method, "DELETE") == 0)
        return AZ_BUCKET_DELETES;
    return AZ_BUCKET_WRITES;
}

const char *az_bucket_name(enum az_bucket b)
{
    static const char *const names[] = {"reads", "writes", "deletes"};

    return (unsigned)b < AZ_BUCKETS ? names[b] : "unknown";
}

void az_classify(long status, const json_t *body, struct az_result *res)
{
    const json_t *e = body ? json_object_get(body, "error") : NULL;
    const char *code, *msg;
    int rc;

    res->status = status;
    res->azure_code[0] = '\0';
    memset(&res->err, 0, sizeof(res->err));
    if (status >= 200 && status < 300)
        return;
    if (!json_is_object(e))
        e = body; /* Compute sometimes sends the unwrapped form */
    code = e ? json_string_value(json_object_get(e, "code")) : NULL;
    msg = e ? json_string_value(json_object_get(e, "message")) : NULL;
    if (code)
        snprintf(res->azure_code, sizeof(res->azure_code), "%s", code);
    if (status == 404)
        rc = -RC_ENOTFOUND;
    else if (status == 408 || status == 429 || status >= 500 || status == 0)
        rc = -RC_ETRANSIENT;
    else if (status == 409 || status == 412)
        rc = -RC_ECONFLICT;
    else
        rc = -RC_EINVAL;
    rc_err_set(&res->err, rc, "", "HTTP %ld%s%s%s%s", status, code ? " " : "", code ? code : "",
               msg ? ": " : "", msg ? msg : "");
    res->err.http_status = (int)status;
}

int64_t az_retry_after_ms(const char *retry_after_ms, const char *x_ms_retry_after_ms,
                          const char *retry_after, int64_t now_ms)
{
    const char *v[2] = {retry_after_ms, x_ms_retry_after_ms};
    char *end;

    for (int i = 0; i < 2; i++) {
        if (v[i] && *v[i]) {
            long long ms = strtoll(v[i], &end, 10);

            if (*end == '\0' && ms >= 0)
                return ms;
        }
    }
    if (retry_after && *retry_after) {
        long long s = strtoll(retry_after, &end, 10);
        struct tm tm;

        if (*end == '\0' && s >= 0)
            return s * 1000;
        /* HTTP-date, e.g. "Wed, 21 Oct 2026 07:28:00 GMT". */
        memset(&tm, 0, sizeof(tm));
        end = strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (end && *end == '\0') {
            int64_t at = (int64_t)timegm(&tm) * 1000;

            return at > now_ms ? at - now_ms : 0;
        }
    }
    return -1;
}

/* ---- op lifecycle ---- */

static void op_link(struct az_arm *a, struct op *o)
{
    o->next = a->ops;
    if (a->ops)
        a->ops->prev = o;
    a->ops = o;
}

static void op_unlink(struct az_arm *a, struct op *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        a->ops = o->next;
    if (o->next)
        o->next->prev = o->prev;
}

static void on_op_timer_closed(uv_handle_t *h)
{
    struct op *o = h->data;

    free(o->url);
    free(o->resource_url);
    free(o->body);
    json_decref(o->items);
    json_decref(o->final);
    free(o);
}

/* Runs the callback once and releases the op (its timer closes on the loop). */
static void op_finish(struct op *o)
{
    struct az_arm *a = o->a;
    json_t *out = NULL;

    op_unlink(a, o);
    if (o->kind == OP_LIST && o->res.err.code == 0) {
        out = json_pack("{s:O}", "value", o->items);
        o->res.body = out;
    } else {
        o->res.body = o->final;
    }
    o->res.attempts = o->total_attempts;
    snprintf(o->res.correlation_id, sizeof(o->res.correlation_id), "%s", o->correlation);
    o->cb(o->arg, &o->res);
    json_decref(out);
    uv_timer_stop(&o->timer);
    uv_close((uv_handle_t *)&o->timer, on_op_timer_closed);
}

static void op_fail(struct op *o, int code, const char *what, const char *url)
{
    if (url)
        rc_err_set(&o->res.err, code, "", "%s (%s)", what, url);
    else
        rc_err_set(&o->res.err, code, "", "%s", what);
    op_finish(o);
}

static void op_send(struct op *o);
static void op_token(struct op *o);

static void on_timer(uv_timer_t *t)
{
    struct op *o = t->data;

    op_token(o);
}

static void op_later(struct op *o, uint64_t delay_ms)
{
    uv_timer_start(&o->timer, on_timer, delay_ms, 0);
}

static bool same_host(const struct az_arm *a, const char *url)
{
    size_t n = strlen(a->host);

    return strncasecmp(url, a->host, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

static int set_url(struct op *o, const char *url)
{
    char *copy;

    if (!same_host(o->a, url))
        return -RC_EPROTO;
    copy = strdup(url);
    if (!copy)
        return -RC_ENOMEM;
    free(o->url);
    o->url = copy;
    o->attempts = 0;
    return 0;
}

/* ---- responses ---- */

static void update_budget(struct az_arm *a, enum az_bucket b, const struct http_response *resp)
{
    static const char *const hdr[] = {"x-ms-ratelimit-remaining-subscription-reads",
                                      "x-ms-ratelimit-remaining-subscription-writes",
                                      "x-ms-ratelimit-remaining-subscription-deletes"};
    const char *v = http_header(resp, hdr[b]);

    if (v)
        a->stats.remaining[b] = strtoll(v, NULL, 10);
}

static int64_t retry_after(const struct http_response *resp)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return az_retry_after_ms(
        http_header(resp, "retry-after-ms"), http_header(resp, "x-ms-retry-after-ms"),
        http_header(resp, "retry-after"), (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Schedules a retry of the current request; false when attempts are used up. */
static bool op_retry(struct op *o, int64_t after_ms)
{
    int64_t backoff = o->a->backoff_ms;

    if (o->attempts >= AZ_ATTEMPTS_MAX)
        return false;
    for (int i = 1; i < o->attempts && backoff < 30000; i++)
        backoff *= 2;
    op_later(o, (uint64_t)(after_ms > backoff ? after_ms : backoff));
    return true;
}

static void keep_body(struct op *o, const struct http_response *resp)
{
    json_decref(o->final);
    o->final = resp->body_len ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
}

static const char *lro_status(const json_t *body)
{
    const char *s = json_string_value(json_object_get(body, "status"));

    if (!s) /* a resource body: its provisioningState */
        s = json_string_value(
            json_object_get(json_object_get(body, "properties"), "provisioningState"));
    return s;
}

static bool terminal(const char *s, bool *ret_ok)
{
    *ret_ok = s == NULL || rc_strcasecmp(s, "Succeeded") == 0;
    return s == NULL || rc_strcasecmp(s, "Succeeded") == 0 || rc_strcasecmp(s, "Failed") == 0 ||
           rc_strcasecmp(s, "Canceled") == 0;
}

static uint64_t poll_delay(const struct http_response *resp)
{
    int64_t ra = retry_after(resp);

    if (ra < 0)
        return POLL_DEFAULT_MS;
    return (uint64_t)(ra > POLL_MAX_MS ? POLL_MAX_MS : ra);
}

static void start_poll(struct op *o, enum op_phase phase, const char *url,
                       const struct http_response *resp)
{
    int r = set_url(o, url);

    if (r < 0) {
        op_fail(o, r, "refusing to poll a URL on another host", url);
        return;
    }
    o->phase = phase;
    o->method = "GET";
    free(o->body);
    o->body = NULL;
    o->body_len = 0;
    op_later(o, poll_delay(resp));
}

/* AZ_WRITE_ACCEPT (az.h): a running operation whose effect is observable.
 * A PUT/PATCH answered 202 hides the resource until the operation ends. */
static bool accepted(struct op *o, const struct http_response *resp, const char *async,
                     const char *location)
{
    bool put = strcmp(o->orig_method, "PUT") == 0 || strcmp(o->orig_method, "PATCH") == 0;
    bool ok;

    if (put)
        return (resp->status == 200 || resp->status == 201) && async &&
               (resp->status == 201 || !terminal(lro_status(o->final), &ok));
    return resp->status == 202 && (async || location);
}

static void handle_write(struct op *o, const struct http_response *resp)
{
    const char *async = http_header(resp, "azure-asyncoperation");
    const char *location = http_header(resp, "location");
    bool ok;

    keep_body(o, resp);
    az_classify(resp->status, o->final, &o->res);
    if (o->res.err.code) {
        op_finish(o);
        return;
    }
    if (o->accept && accepted(o, resp, async, location)) {
        o->res.accepted = true;
        o->res.retry_after_ms = (int64_t)poll_delay(resp);
        op_finish(o);
        return;
    }
    if (async &&
        (resp->status == 201 || resp->status == 202 || !terminal(lro_status(o->final), &ok))) {
        start_poll(o, PH_POLL_ASYNC, async, resp);
        return;
    }
    if (resp->status == 202 && location) {
        start_poll(o, PH_POLL_LOCATION, location, resp);
        return;
    }
    op_finish(o);
}

static void handle_poll_async(struct op *o, const struct http_response *resp)
{
    json_t *body = resp->body_len ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    const char *s = lro_status(body);
    bool ok;

    if (resp->status != 200 || !s) {
        /* Failing to read the status is not the operation failing. */
        json_decref(body);
        if (!op_retry(o, poll_delay(resp)))
            op_fail(o, -RC_ETRANSIENT, "cannot read the operation status", o->url);
        return;
    }
    if (!terminal(s, &ok)) {
        json_decref(body);
        o->attempts = 0;
        op_later(o, poll_delay(resp));
        return;
    }
    if (!ok) {
        const json_t *e = json_object_get(body, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));

        snprintf(o->res.azure_code, sizeof(o->res.azure_code), "%s", code ? code : s);
        rc_err_set(&o->res.err, -RC_ECONFLICT, "", "operation %s: %s%s%s", s, code ? code : "",
                   msg ? ": " : "", msg ? msg : "");
        o->res.status = 200;
        json_decref(o->final);
        o->final = body;
        op_finish(o);
        return;
    }
    json_decref(body);
    if (strcmp(o->orig_method, "PUT") == 0 || strcmp(o->orig_method, "PATCH") == 0) {
        set_url(o, o->resource_url); /* same host: checked at start */
        o->phase = PH_FINAL_GET;
        o->method = "GET";
        op_token(o);
        return;
    }
    o->res.status = 200;
    op_finish(o);
}

static void handle_poll_location(struct op *o, const struct http_response *resp)
{
    const char *next = http_header(resp, "location");

    if (resp->status == 202) {
        if (next && set_url(o, next) < 0) {
            op_fail(o, -RC_EPROTO, "refusing to poll a URL on another host", next);
            return;
        }
        o->attempts = 0;
        op_later(o, poll_delay(resp));
        return;
    }
    keep_body(o, resp);
    az_classify(resp->status, o->final, &o->res);
    op_finish(o);
}

static void handle_list(struct op *o, const struct http_response *resp)
{
    json_t *body = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *value = json_object_get(body, "value");
    const char *next = json_string_value(json_object_get(body, "nextLink"));

    az_classify(resp->status, body, &o->res);
    if (o->res.err.code) {
        json_decref(o->final);
        o->final = body;
        op_finish(o);
        return;
    }
    if (!json_is_array(value)) {
        json_decref(body);
        op_fail(o, -RC_EPROTO, "list response without a value array", o->url);
        return;
    }
    if (json_array_size(o->items) + json_array_size(value) > AZ_LIST_ITEMS_MAX) {
        json_decref(body);
        op_fail(o, -RC_ELIMIT, "list has more than 100000 items", o->url);
        return;
    }
    json_array_extend(o->items, value);
    if (next && *next) {
        int r = set_url(o, next);

        if (r < 0) {
            op_fail(o, r, "refusing a nextLink on another host", next);
            json_decref(body); /* next points into body */
            return;
        }
        json_decref(body);
        op_token(o);
        return;
    }
    json_decref(body);
    op_finish(o);
}

static void on_response(void *arg, const struct http_response *resp)
{
    struct op *o = arg;
    struct az_arm *a = o->a;
    enum az_bucket b = az_bucket_of(o->method);
    int64_t ra;

    if (a->closing) {
        op_fail(o, -RC_ETRANSIENT, "client closed", NULL);
        return;
    }
    a->stats.by_status[resp->status >= 100 && resp->status < 600 ? resp->status / 100 : 0]++;
    o->res.retry_after_ms = (ra = retry_after(resp)) > 0 ? ra : 0;
    if (resp->status == 0) {
        if (!op_retry(o, 0)) {
            o->res.err = resp->err;
            op_finish(o);
        }
        return;
    }
    update_budget(a, b, resp);
    if (resp->status == 429) {
        int64_t pause = ra >= 0 ? ra : 5000;
        uint64_t until;

        /* The loop time is cached from the start of this turn; a pause counted
         * from it could end before Retry-After has passed since the answer. */
        uv_update_time(a->loop);
        until = uv_now(a->loop) + (uint64_t)pause;

        a->stats.throttled++;
        if (until > a->paused_until[b]) {
            a->stats.throttled_seconds +=
                (double)(until - (a->paused_until[b] > uv_now(a->loop) ? a->paused_until[b]
                                                                       : uv_now(a->loop))) /
                1000.0;
            a->paused_until[b] = until;
        }
    }
    if (resp->status == 401 && !o->reauthed) {
        o->reauthed = true;
        az_cred_invalidate(a->cred);
        op_token(o);
        return;
    }
    if ((resp->status == 408 || resp->status == 429 || resp->status >= 500) &&
        o->phase != PH_POLL_ASYNC) {
        if (op_retry(o, ra > 0 ? ra : 0))
            return;
        keep_body(o, resp);
        az_classify(resp->status, o->final, &o->res);
        op_finish(o);
        return;
    }
    if (uv_now(a->loop) - o->started > (uint64_t)AZ_LRO_MAX_MS) {
        op_fail(o, -RC_ECONFLICT, "operation still running after an hour", o->url);
        return;
    }
    switch (o->phase) {
    case PH_POLL_ASYNC:
        handle_poll_async(o, resp);
        return;
    case PH_POLL_LOCATION:
        handle_poll_location(o, resp);
        return;
    case PH_FINAL_GET:
        keep_body(o, resp);
        az_classify(resp->status, o->final, &o->res);
        op_finish(o);
        return;
    case PH_SEND:
        break;
    }
    if (o->kind == OP_LIST) {
        handle_list(o, resp);
    } else if (o->kind == OP_WRITE) {
        handle_write(o, resp);
    } else {
        keep_body(o, resp);
        az_classify(resp->status, o->final, &o->res);
        op_finish(o);
    }
}

/* ---- sending ---- */

static void op_send_with(struct op *o, const char *token)
{
    struct az_arm *a = o->a;
    enum az_bucket b = az_bucket_of(o->method);
    uint64_t now = uv_now(a->loop);
    char auth[TOKEN_HDR_MAX];
    char corr[128];
    const char *hdrs[4];
    struct rc_err err = {0};
    size_t n = 0;

    if (a->paused_until[b] > now) {
        op_later(o, a->paused_until[b] - now); /* never send into a paused bucket */
        return;
    }
    /* Pace: almost out of budget, leave a refill interval (writes and deletes
     * refill 10/s, reads 25/s: azure-arm.md §3.1). */
    if (a->stats.remaining[b] >= 0 && a->stats.remaining[b] < PACE_THRESHOLD && o->attempts == 0 &&
        !o->timer_live) {
        o->timer_live = true;
        op_later(o, b == AZ_BUCKET_READS ? 40 : 100);
        return;
    }
    o->timer_live = false;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    snprintf(corr, sizeof(corr), "x-ms-correlation-request-id: %s", o->correlation);
    hdrs[n++] = auth;
    hdrs[n++] = corr;
    hdrs[n++] = "Accept: application/json";
    if (o->body)
        hdrs[n++] = "Content-Type: application/json";
    o->attempts++;
    o->total_attempts++;
    a->stats.requests++;
    if (http_request(a->http, o->method, o->url, hdrs, n, o->body, o->body_len, on_response, o,
                     &err) < 0) {
        explicit_bzero(auth, sizeof(auth));
        o->res.err = err;
        op_finish(o);
        return;
    }
    explicit_bzero(auth, sizeof(auth));
}

static void on_token(void *arg, const char *token, const struct rc_err *err)
{
    struct op *o = arg;

    if (!token) {
        o->res.err = *err;
        op_finish(o);
        return;
    }
    op_send_with(o, token);
}

static void op_token(struct op *o)
{
    const char *tok = az_cred_cached(o->a->cred);
    struct rc_err err = {0};

    if (tok) {
        op_send_with(o, tok);
        return;
    }
    if (az_cred_token(o->a->cred, on_token, o, &err) < 0) {
        o->res.err = err;
        op_finish(o);
    }
}

static void op_send(struct op *o)
{
    op_token(o);
}

static void on_first(uv_timer_t *t)
{
    op_send(t->data);
}

static int op_start(struct az_arm *a, enum op_kind kind, const char *method, const char *path,
                    const char *api_version, const json_t *body, unsigned flags, az_cb cb,
                    void *arg, struct rc_err *err)
{
    struct op *o;
    char url[URL_MAX];
    int n;

    if (a->closing)
        return rc_err_set(err, -RC_ETRANSIENT, "", "client closed");
    if (!path || path[0] != '/')
        return rc_err_set(err, -RC_EINVAL, "", "ARM path must start with '/'");
    n = snprintf(url, sizeof(url), "%s%s%capi-version=%s", a->endpoint, path,
                 strchr(path, '?') ? '&' : '?', api_version);
    if (n < 0 || (size_t)n >= sizeof(url))
        return rc_err_set(err, -RC_ELIMIT, "", "ARM URL longer than %d bytes", URL_MAX);
    o = calloc(1, sizeof(*o));
    if (!o)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    o->a = a;
    o->kind = kind;
    o->accept = kind == OP_WRITE && (flags & AZ_WRITE_ACCEPT);
    o->method = o->orig_method = method;
    o->url = strdup(url);
    o->resource_url = strdup(url);
    o->items = kind == OP_LIST ? json_array() : NULL;
    if (body) {
        o->body = json_dumps(body, JSON_COMPACT);
        o->body_len = o->body ? strlen(o->body) : 0;
    }
    if (!o->url || !o->resource_url || (kind == OP_LIST && !o->items) || (body && !o->body) ||
        uv_timer_init(a->loop, &o->timer) != 0) {
        free(o->url);
        free(o->resource_url);
        free(o->body);
        json_decref(o->items);
        free(o);
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    }
    o->timer.data = o;
    o->started = uv_now(a->loop);
    snprintf(o->correlation, sizeof(o->correlation), "azpool-%llx-%llu",
             (unsigned long long)o->started, (unsigned long long)++a->seq);
    o->cb = cb;
    o->arg = arg;
    op_link(a, o);
    /* Start from the loop: the callback must never run inside this call. */
    uv_timer_start(&o->timer, on_first, 0, 0);
    return 0;
}

/* ---- struct az_ops ---- */

static int ops_list(void *self, const char *path, const char *api_version, az_cb cb, void *arg,
                    struct rc_err *err)
{
    return op_start(self, OP_LIST, "GET", path, api_version, NULL, 0, cb, arg, err);
}

static int ops_get(void *self, const char *path, const char *api_version, az_cb cb, void *arg,
                   struct rc_err *err)
{
    return op_start(self, OP_GET, "GET", path, api_version, NULL, 0, cb, arg, err);
}

static int ops_write(void *self, enum rc_method method, const char *path, const char *api_version,
                     const json_t *body, unsigned flags, az_cb cb, void *arg, struct rc_err *err)
{
    return op_start(self, OP_WRITE, rc_method_name(method), path, api_version, body, flags, cb, arg,
                    err);
}

void az_arm_ops(struct az_arm *a, struct az_ops *ret)
{
    ret->self = a;
    ret->list = ops_list;
    ret->get = ops_get;
    ret->write = ops_write;
}

struct az_arm *az_arm_new(uv_loop_t *loop, struct http *h, struct az_cred *cred,
                          const char *endpoint)
{
    struct az_arm *a = calloc(1, sizeof(*a));
    const char *p;
    size_t n;

    if (!a)
        return NULL;
    a->loop = loop;
    a->http = h;
    a->cred = cred;
    a->endpoint = strdup(endpoint);
    if (!a->endpoint) {
        free(a);
        return NULL;
    }
    n = strlen(a->endpoint);
    while (n && a->endpoint[n - 1] == '/')
        a->endpoint[--n] = '\0';
    p = strstr(a->endpoint, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    snprintf(a->host, sizeof(a->host), "%.*s", (int)(p ? (size_t)(p - a->endpoint) : n),
             a->endpoint);
    for (int b = 0; b < AZ_BUCKETS; b++)
        a->stats.remaining[b] = -1;
    a->backoff_ms = 200;
    return a;
}

void az_arm_free(struct az_arm *a)
{
    if (!a)
        return;
    a->closing = true;
    while (a->ops)
        op_fail(a->ops, -RC_ETRANSIENT, "client closed", NULL);
    free(a->endpoint);
    free(a);
}

const struct az_arm_stats *az_arm_stats(const struct az_arm *a)
{
    return &a->stats;
}

void az_arm_set_backoff(struct az_arm *a, int64_t base_ms)
{
    a->backoff_ms = base_ms > 0 ? base_ms : 1;
}
