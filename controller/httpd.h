/*
 * httpd.h - the controller's HTTP listener (DESIGN.md §10): libwebsockets on
 * the controller's libuv loop (LWS_SERVER_OPTION_LIBUV + foreign loop), so
 * serving /healthz, /readyz, /metrics and /api/v1/... never blocks
 * reconciling and needs no thread.
 *
 * Requests are answered synchronously by one handler from what the controller
 * holds in memory. Only GET and HEAD are served (405 otherwise); request
 * bodies are refused; paths longer than HTTPD_PATH_MAX get 414. Responses are
 * written in chunks, so large /metrics or /api outputs do not need large
 * socket buffers.
 *
 * Ownership: the handler puts a malloc'd body into resp->body, which httpd
 * takes and frees. loop is borrowed.
 * Shutdown is two-phase (lws 4.1 with a foreign loop): httpd_close() stops
 * listening and closes lws's uv handles; run the loop so they close; then
 * httpd_free() releases the context and the struct.
 */
#ifndef AZPOOL_HTTPD_H
#define AZPOOL_HTTPD_H

#include <stddef.h>

#include <uv.h>

#include "rc_err.h"

#define HTTPD_PATH_MAX 1024

struct httpd;

struct httpd_req {
    const char *method; /* "GET" | "HEAD" */
    const char *path;   /* without the query string */
    const char *query;  /* "" when none */
};

struct httpd_resp {
    int status;               /* default 200 */
    const char *content_type; /* static string; default "text/plain; charset=utf-8" */
    char *body;               /* malloc'd, taken; NULL for none */
    size_t len;
};

typedef void (*httpd_handler_cb)(void *arg, const struct httpd_req *req, struct httpd_resp *resp);

/* Listens on addr:port (port 0: any free port, see httpd_port). */
struct httpd *httpd_new(uv_loop_t *loop, const char *addr, int port, httpd_handler_cb handler,
                        void *arg, struct rc_err *err);
void httpd_close(struct httpd *h); /* NULL is fine; idempotent */
void httpd_free(struct httpd *h);  /* NULL is fine; closes first if needed */
int httpd_port(const struct httpd *h);

/* Splits "127.0.0.1:9440" / "[::1]:9440" / ":9440" into addr and port. */
int httpd_parse_listen(const char *s, char *addr, size_t addr_size, int *ret_port,
                       struct rc_err *err);

#endif
