/*
 * support_srv.h - a scriptable HTTP/1.1 server for unit tests, on a libuv loop.
 *
 * Keep-alive and pipelined requests are served in order. For each request the
 * handler fills a response: status, extra header lines, body, or `hang` to
 * never answer. The server counts accepted connections and requests.
 *
 * Ownership: the request is borrowed for the handler's duration; the handler
 * sets resp->body to memory that stays valid until the handler returns (it is
 * copied). srv_stop() closes the listener and every connection; run the loop
 * afterwards to finish closing.
 */
#ifndef AZPOOL_SUPPORT_SRV_H
#define AZPOOL_SUPPORT_SRV_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct srv_req {
    const char *method;
    const char *target;  /* path and query, as sent */
    const char *headers; /* raw header block, NUL-terminated */
    const char *body;
    size_t body_len;
};

struct srv_resp {
    int status;
    char headers[2048]; /* extra "Name: value\r\n" lines */
    const char *body;
    size_t body_len;
    bool hang;
};

typedef void (*srv_handler_cb)(void *arg, const struct srv_req *req, struct srv_resp *resp);

struct srv;

struct srv *srv_start(uv_loop_t *loop, srv_handler_cb handler, void *arg);
int srv_port(const struct srv *s);
int srv_accepted(const struct srv *s);
int srv_requests(const struct srv *s);
/* Closes everything and frees s; run the loop to completion afterwards. */
void srv_stop(struct srv *s);
/* Value of header name in a raw header block (case-insensitive), copied into
 * buf; returns buf or NULL. */
const char *srv_header(const struct srv_req *req, const char *name, char *buf, size_t size);
/* Closes remaining handles, runs the loop dry and asserts uv_loop_close == 0. */
void srv_loop_finish(uv_loop_t *loop);

#endif
