/*
 * http.c - see http.h.
 *
 * The libcurl multi-socket pattern on libuv: curl tells us which sockets to
 * watch (socket_cb) and when to call it back (timer_cb); uv tells us when a
 * socket is ready (on_poll) or the timer fired (on_timeout); after each
 * curl_multi_socket_action we collect finished transfers (drain_done).
 * Completion callbacks therefore always run from the loop.
 */
#include "http.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct http_opts opts;
    char *ca_file;
    char user_agent[64];
    struct http_req *reqs; /* in flight, doubly linked */
    size_t n_pending;
    int in_data;   /* inside some request's on_data (a libcurl callback) */
    bool deferred; /* requests to add or cancel once libcurl has returned */
    bool closing;
};

struct http_req {
    struct http *h;
    CURL *easy;
    struct curl_slist *headers;
    char *body_in; /* request body copy */
    char *body;    /* response body */
    size_t len, cap;
    bool too_big;
    http_data_cb on_data; /* streaming receiver, NULL: collect */
    void *data_arg;
    bool in_data;   /* inside on_data */
    bool cancelled; /* http_cancel() while in on_data: abort, report cancelled */
    bool aborted;   /* on_data returned non-zero */
    bool added;     /* the easy handle is in the multi handle */
    struct http_response resp;
    http_done_cb cb;
    void *arg;
    struct http_req *prev, *next;
};

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct http *h;
};

static void req_free(struct http_req *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body_in);
    free(r->body);
    for (size_t i = 0; i < r->resp.n_headers; i++) {
        free(r->resp.headers[i].name);
        free(r->resp.headers[i].value);
    }
    free(r);
}

static void req_unlink(struct http *h, struct http_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    h->n_pending--;
}

/* ---- transfer callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct http_req *r = userp;
    size_t n = size * nmemb;

    if (r->on_data) {
        long status = 0;

        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            int rc;

            if (r->cancelled)
                return 0;
            r->in_data = true;
            r->h->in_data++;
            rc = r->on_data(r->data_arg, data, n);
            r->h->in_data--;
            r->in_data = false;
            if (rc != 0)
                r->aborted = true;
            return rc != 0 || r->cancelled ? 0 : n;
        }
    }
    if (r->len + n > (size_t)HTTP_BODY_MAX) {
        r->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        char *b;

        while (cap < r->len + n + 1)
            cap *= 2;
        b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static char *trimmed_copy(const char *s, size_t n)
{
    char *out;

    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userp)
{
    struct http_req *r = userp;
    size_t n = size * nitems;
    const char *colon;
    char *name, *value;

    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue or a redirect): start over. */
        for (size_t i = 0; i < r->resp.n_headers; i++) {
            free(r->resp.headers[i].name);
            free(r->resp.headers[i].value);
        }
        r->resp.n_headers = 0;
        return n;
    }
    colon = memchr(data, ':', n);
    if (!colon || r->resp.n_headers == HTTP_HEADERS_MAX)
        return n;
    name = trimmed_copy(data, (size_t)(colon - data));
    value = trimmed_copy(colon + 1, n - (size_t)(colon - data) - 1);
    if (!name || !value) {
        free(name);
        free(value);
        return 0;
    }
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    r->resp.headers[r->resp.n_headers].name = name;
    r->resp.headers[r->resp.n_headers].value = value;
    r->resp.n_headers++;
    return n;
}

const char *http_header(const struct http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

/* ---- completion ---- */

static void classify(struct http_req *r, CURLcode code)
{
    struct rc_err *e = &r->resp.err;
    int rc;

    switch (code) {
    case CURLE_OK:
        return;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        rc = -RC_EPROTO; /* configuration: retrying will not help */
        break;
    case CURLE_OUT_OF_MEMORY:
        rc = -RC_ENOMEM;
        break;
    default:
        rc = -RC_ETRANSIENT; /* resets, timeouts, refused connections */
        break;
    }
    if (r->cancelled)
        rc_err_set(e, -RC_ETRANSIENT, "", "cancelled");
    else if (r->aborted)
        rc_err_set(e, -RC_ETRANSIENT, "", "aborted by the receiver");
    else if (r->too_big)
        rc_err_set(e, -RC_ELIMIT, "", "response body larger than %ld bytes", HTTP_BODY_MAX);
    else
        rc_err_set(e, rc, "", "%s", curl_easy_strerror(code));
}

static void complete(struct http *h, struct http_req *r, CURLcode code)
{
    long status = 0;
    double total = 0;

    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &total);
    curl_multi_remove_handle(h->multi, r->easy);
    r->added = false;
    req_unlink(h, r);
    r->resp.status = code == CURLE_OK && !r->cancelled ? status : 0;
    r->resp.total_s = total;
    r->resp.body = r->body ? r->body : (char *)"";
    r->resp.body_len = r->len;
    classify(r, code);
    r->cb(r->arg, &r->resp);
    req_free(r);
}

static void drain_done(struct http *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct http_req *r = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            complete(h, r, msg->data.result);
    }
}

/* Ends r (not in the multi handle any more) with status 0 and err. */
static void finish_early(struct http *h, struct http_req *r, int code, const char *msg)
{
    req_unlink(h, r);
    r->resp.status = 0;
    r->resp.body = (char *)"";
    rc_err_set(&r->resp.err, code, "", "%s", msg);
    r->cb(r->arg, &r->resp);
    req_free(r);
}

/* libcurl refuses curl_multi_add_handle/remove_handle from inside its
 * callbacks (CURLM_RECURSIVE_API_CALL), and an on_data receiver may start or
 * cancel requests (a watch event that makes the caller relist). Those wait
 * until curl_multi_socket_action has returned, and are done here. */
static void flush_deferred(struct http *h)
{
    bool again = true;

    if (!h->deferred || h->in_data || h->closing)
        return;
    h->deferred = false;
    while (again) {
        again = false;
        for (struct http_req *r = h->reqs; r; r = r->next) {
            if (r->cancelled) {
                if (r->added)
                    curl_multi_remove_handle(h->multi, r->easy);
                r->added = false;
                finish_early(h, r, -RC_ETRANSIENT, "cancelled");
                again = true; /* the callback may have changed the list */
                break;
            }
            if (!r->added) {
                if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
                    finish_early(h, r, -RC_ETRANSIENT, "curl refused the request");
                    again = true;
                    break;
                }
                r->added = true;
            }
        }
    }
}

/* ---- uv <-> curl glue ---- */

static void on_timeout(uv_timer_t *t)
{
    struct http *h = t->data;
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(h);
    flush_deferred(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct http *h = userp;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *s = p->data;
    struct http *h = s->h;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    drain_done(h);
    flush_deferred(h);
}

static void on_sock_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http *h = userp;
    struct sock_ctx *s = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_sock_closed);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        s->fd = fd;
        s->h = h;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        curl_multi_assign(h->multi, fd, s);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

/* ---- public ---- */

struct http *http_new(uv_loop_t *loop, const struct http_opts *opts)
{
    static bool curl_ready;
    struct http *h;

    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        curl_ready = true;
    }
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->loop = loop;
    if (opts)
        h->opts = *opts;
    if (h->opts.timeout_ms <= 0)
        h->opts.timeout_ms = 60000;
    if (h->opts.connect_timeout_ms <= 0)
        h->opts.connect_timeout_ms = 10000;
    if (h->opts.max_host_connections <= 0)
        h->opts.max_host_connections = 8;
    snprintf(h->user_agent, sizeof(h->user_agent), "%s",
             h->opts.user_agent ? h->opts.user_agent : "azpool/" AZPOOL_VERSION);
    if (h->opts.ca_file && !(h->ca_file = strdup(h->opts.ca_file)))
        goto fail;
    h->multi = curl_multi_init();
    if (!h->multi)
        goto fail;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->opts.max_host_connections);
    if (uv_timer_init(loop, &h->timer) != 0)
        goto fail;
    h->timer.data = h;
    return h;
fail:
    if (h->multi)
        curl_multi_cleanup(h->multi);
    free(h->ca_file);
    free(h);
    return NULL;
}

static void cancel_all(struct http *h)
{
    while (h->reqs) {
        struct http_req *r = h->reqs;

        if (r->added)
            curl_multi_remove_handle(h->multi, r->easy);
        r->added = false;
        req_unlink(h, r);
        r->resp.status = 0;
        r->resp.body = (char *)"";
        rc_err_set(&r->resp.err, -RC_ETRANSIENT, "", "cancelled");
        r->cb(r->arg, &r->resp);
        req_free(r);
    }
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct http *h = handle->data;

    free(h->ca_file);
    free(h);
}

void http_free(struct http *h)
{
    if (!h || h->closing)
        return;
    h->closing = true;
    cancel_all(h);
    /* Removing the handles made curl ask us to drop every socket watcher;
     * cleaning up the multi handle closes the cached connections. */
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

size_t http_pending(const struct http *h)
{
    return h->n_pending;
}

int http_request(struct http *h, const char *method, const char *url, const char *const *headers,
                 size_t n_headers, const char *body, size_t body_len, http_done_cb cb, void *arg,
                 struct rc_err *err)
{
    return http_request_ex(h, method, url, headers, n_headers, body, body_len, NULL, cb, arg, NULL,
                           err);
}

void http_cancel(struct http *h, struct http_req *r)
{
    if (!r || r->cancelled)
        return;
    if (r->in_data) {
        r->cancelled = true; /* on_body aborts; complete() reports it */
        return;
    }
    if (r->added && h->in_data) {
        /* inside another request's on_data: libcurl would refuse the
         * removal; flush_deferred() does it (on_body no longer delivers) */
        r->cancelled = true;
        h->deferred = true;
        return;
    }
    if (r->added)
        curl_multi_remove_handle(h->multi, r->easy);
    r->added = false;
    finish_early(h, r, -RC_ETRANSIENT, "cancelled");
}

static void set_blob(CURL *easy, CURLoption opt, const void *data, size_t len)
{
    struct curl_blob b;

    b.data = (void *)data;
    b.len = len;
    b.flags = CURL_BLOB_COPY;
    curl_easy_setopt(easy, opt, &b);
}

int http_request_ex(struct http *h, const char *method, const char *url, const char *const *headers,
                    size_t n_headers, const char *body, size_t body_len,
                    const struct http_req_opts *o, http_done_cb cb, void *arg,
                    struct http_req **ret_req, struct rc_err *err)
{
    static const struct http_req_opts none;
    struct http_req *r;

    if (!o)
        o = &none;

    if (h->closing)
        return rc_err_set(err, -RC_ETRANSIENT, "", "client is shutting down");
    r = calloc(1, sizeof(*r));
    if (!r)
        return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
    r->h = h;
    r->cb = cb;
    r->arg = arg;
    r->easy = curl_easy_init();
    if (!r->easy)
        goto nomem;
    for (size_t i = 0; i < n_headers; i++) {
        struct curl_slist *l = curl_slist_append(r->headers, headers[i]);

        if (!l)
            goto nomem;
        r->headers = l;
    }
    /* curl adds "Expect: 100-continue" to large bodies; ARM does not need it. */
    {
        struct curl_slist *l = curl_slist_append(r->headers, "Expect:");

        if (!l)
            goto nomem;
        r->headers = l;
    }
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
    if (body) {
        r->body_in = malloc(body_len ? body_len : 1);
        if (!r->body_in)
            goto nomem;
        memcpy(r->body_in, body, body_len);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body_in);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
                     o->timeout_ms > 0 ? o->timeout_ms
                                       : (o->timeout_ms < 0 ? 0L : h->opts.timeout_ms));
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, h->opts.connect_timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->ca_file)
        curl_easy_setopt(r->easy, CURLOPT_CAINFO, o->ca_file);
    else if (h->ca_file)
        curl_easy_setopt(r->easy, CURLOPT_CAINFO, h->ca_file);
    if (o->ca_blob)
        set_blob(r->easy, CURLOPT_CAINFO_BLOB, o->ca_blob, o->ca_blob_len);
    if (o->cert_blob)
        set_blob(r->easy, CURLOPT_SSLCERT_BLOB, o->cert_blob, o->cert_blob_len);
    else if (o->cert_file)
        curl_easy_setopt(r->easy, CURLOPT_SSLCERT, o->cert_file);
    if (o->key_blob)
        set_blob(r->easy, CURLOPT_SSLKEY_BLOB, o->key_blob, o->key_blob_len);
    else if (o->key_file)
        curl_easy_setopt(r->easy, CURLOPT_SSLKEY, o->key_file);
    if (o->tcp_keepalive) {
        curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPIDLE, 30L);
        curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPINTVL, 15L);
    }
    r->on_data = o->on_data;
    r->data_arg = o->data_arg;
    /* Never follow redirects: ARM does not send them, and a redirect must not
     * carry our bearer token to another host. */
    curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
    if (h->in_data) {
        h->deferred = true; /* added by flush_deferred() */
    } else {
        if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
            req_free(r);
            return rc_err_set(err, -RC_ETRANSIENT, "", "curl refused the request");
        }
        r->added = true;
    }
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    h->n_pending++;
    if (ret_req)
        *ret_req = r;
    return 0;
nomem:
    req_free(r);
    return rc_err_set(err, -RC_ENOMEM, "", "out of memory");
}
