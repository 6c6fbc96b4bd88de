/*
 * http.h - asynchronous HTTP(S) requests: libcurl multi driven by a libuv loop.
 *
 * One struct http per loop. Requests run concurrently over reused connections
 * (curl's connection cache, keep-alive); sockets are watched with uv_poll and
 * curl's timer with a uv_timer (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION), so
 * nothing ever blocks the loop.
 *
 * Call contract (DESIGN.md §3, the seam): http_request() returning an error
 * means the callback never runs; otherwise the callback runs exactly once, from
 * the loop, never from inside http_request(). http_free() (or
 * http_cancel_all()) completes pending requests with status 0 and
 * -RC_ETRANSIENT "cancelled".
 *
 * Limits: response bodies larger than HTTP_BODY_MAX fail the request
 * (ARM itself drops responses over 8 MB); every request has a total timeout;
 * response headers are kept only for the names the Azure client needs.
 *
 * TLS: verification is always on (DESIGN.md §4 rule 8); a CA file may be
 * added for test worlds, never a switch that turns verification off.
 *
 * Ownership: the request copies url, headers and body. The response passed to
 * the callback is borrowed for the duration of the callback.
 *
 * Per-request options (http_request_ex, added for the Kubernetes client): TLS
 * material per request (a CA bundle, client certificate and key, as files or
 * as PEM blobs that curl copies), a total timeout (or none, for streams), TCP
 * keepalive, and streaming: with on_data, the body of a 2xx response is handed
 * over chunk by chunk as it arrives instead of being collected (the done
 * callback then sees an empty body; a non-2xx body is still collected, so
 * error bodies reach the done callback). http_cancel() ends one request.
 */
#ifndef AZPOOL_HTTP_H
#define AZPOOL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rc_err.h"

#define HTTP_BODY_MAX    (9L * 1024 * 1024)
#define HTTP_HEADERS_MAX 32

struct http;

struct http_header {
    char *name;  /* lowercase */
    char *value; /* trimmed */
};

struct http_response {
    long status; /* 0 when no response arrived (transport error) */
    char *body;  /* NUL-terminated */
    size_t body_len;
    struct http_header headers[HTTP_HEADERS_MAX];
    size_t n_headers;
    double total_s;    /* time from start to end */
    struct rc_err err; /* set when the transfer failed (code 0 otherwise) */
};

typedef void (*http_done_cb)(void *arg, const struct http_response *resp);

struct http_opts {
    const char *ca_file;      /* extra trust anchors (test worlds); NULL: system store */
    long timeout_ms;          /* per request, default 60 s */
    long connect_timeout_ms;  /* default 10 s */
    int max_host_connections; /* default 8 */
    const char *user_agent;   /* default "azpool/<version>" */
};

/* NULL on failure (curl or uv could not be initialised). loop is borrowed and
 * must outlive the struct http. */
struct http *http_new(uv_loop_t *loop, const struct http_opts *opts);
/* Cancels what is pending (callbacks run with a cancel error, synchronously
 * inside http_free) and releases everything. NULL is fine. */
void http_free(struct http *h);

/* method: "GET", "PUT", ...; headers: "Name: value" strings (n_headers of them);
 * body may be NULL. */
int http_request(struct http *h, const char *method, const char *url, const char *const *headers,
                 size_t n_headers, const char *body, size_t body_len, http_done_cb cb, void *arg,
                 struct rc_err *err);

/* Streaming receiver: a chunk of a 2xx response body (not NUL-terminated).
 * Non-zero aborts the transfer; the done callback then reports the abort. */
typedef int (*http_data_cb)(void *arg, const char *data, size_t len);

struct http_req_opts {
    long timeout_ms;     /* 0: the client's timeout_ms; < 0: no total timeout */
    bool tcp_keepalive;  /* keepalive probes (long-lived streams) */
    const char *ca_file; /* overrides the client's ca_file */
    const void *ca_blob; /* PEM bundle in memory; overrides any CA file */
    size_t ca_blob_len;
    const char *cert_file; /* client certificate, PEM */
    const void *cert_blob;
    size_t cert_blob_len;
    const char *key_file; /* client key, PEM */
    const void *key_blob;
    size_t key_blob_len;
    http_data_cb on_data; /* NULL: collect the body as http_request does */
    void *data_arg;
};

struct http_req;

/* http_request with per-request options (o may be NULL). When ret_req is not
 * NULL it receives a handle valid until the done callback has run. */
int http_request_ex(struct http *h, const char *method, const char *url, const char *const *headers,
                    size_t n_headers, const char *body, size_t body_len,
                    const struct http_req_opts *o, http_done_cb cb, void *arg,
                    struct http_req **ret_req, struct rc_err *err);

/* Ends a request in flight: its callback runs with status 0 and -RC_ETRANSIENT
 * "cancelled", synchronously inside http_cancel(), or, when called from any
 * request's on_data (inside libcurl, which refuses to remove handles there),
 * once libcurl has returned; on_data of r is not called again in between.
 * Requests started from inside an on_data are likewise added to libcurl once
 * it has returned. */
void http_cancel(struct http *h, struct http_req *r);

/* Value of a response header (case-insensitive name), NULL when absent. */
const char *http_header(const struct http_response *resp, const char *name);

/* Requests in flight. */
size_t http_pending(const struct http *h);

#endif
