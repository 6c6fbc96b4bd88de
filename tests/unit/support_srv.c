/* support_srv.c - see support_srv.h. */
#include "support_srv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CONN_BUF (1024 * 1024)

struct srv {
    uv_tcp_t tcp;
    int port;
    int accepted, requests;
    srv_handler_cb handler;
    void *arg;
};

struct conn {
    uv_tcp_t tcp;
    struct srv *srv;
    char *buf;
    size_t len;
};

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    free(c->buf);
    free(c);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void send_raw(struct conn *c, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof(*w));
    char *copy = malloc(len ? len : 1);
    uv_buf_t b;

    assert_non_null(w);
    assert_non_null(copy);
    memcpy(copy, data, len);
    w->data = copy;
    b = uv_buf_init(copy, (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(copy);
        free(w);
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 404:
        return "Not Found";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

const char *srv_header(const struct srv_req *req, const char *name, char *buf, size_t size)
{
    size_t n = strlen(name);

    for (const char *p = req->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);

        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            size_t vlen = len - n - 1;

            while (vlen && *v == ' ') {
                v++;
                vlen--;
            }
            snprintf(buf, size, "%.*s", (int)vlen, v);
            return buf;
        }
        if (!eol)
            break;
        p = eol + 2;
    }
    return NULL;
}

static void serve_buffer(struct conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        char method[16] = "", target[4096] = "", cl[32];
        struct srv_req req;
        struct srv_resp resp;
        size_t head_len, body_len = 0;
        char *line_end;

        if (!end)
            return;
        head_len = (size_t)(end - c->buf) + 4;
        *end = '\0';
        line_end = strstr(c->buf, "\r\n");
        req.headers = line_end ? line_end + 2 : "";
        if (srv_header(&req, "content-length", cl, sizeof(cl)))
            body_len = (size_t)strtoul(cl, NULL, 10);
        if (c->len < head_len + body_len) {
            *end = '\r';
            return;
        }
        sscanf(c->buf, "%15s %4095s", method, target);
        req.method = method;
        req.target = target;
        req.body = c->buf + head_len;
        req.body_len = body_len;
        memset(&resp, 0, sizeof(resp));
        resp.status = 200;
        c->srv->requests++;
        c->srv->handler(c->srv->arg, &req, &resp);
        if (!resp.hang) {
            char head[4096];
            int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n\r\n",
                             resp.status, reason(resp.status), resp.headers, resp.body_len);

            send_raw(c, head, (size_t)n);
            if (resp.body_len)
                send_raw(c, resp.body, resp.body_len);
        }
        memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
        c->len -= head_len + body_len;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(CONN_BUF - 1 - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;

    (void)buf;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    serve_buffer(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct srv *s = listener->data;
    struct conn *c = calloc(1, sizeof(*c));

    assert_int_equal(status, 0);
    assert_non_null(c);
    c->buf = malloc(CONN_BUF);
    assert_non_null(c->buf);
    c->srv = s;
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(listener, (uv_stream_t *)&c->tcp), 0);
    s->accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

struct srv *srv_start(uv_loop_t *loop, srv_handler_cb handler, void *arg)
{
    struct srv *s = calloc(1, sizeof(*s));
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    assert_non_null(s);
    s->handler = handler;
    s->arg = arg;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 128, on_connection), 0);
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &len);
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return s;
}

int srv_port(const struct srv *s)
{
    return s->port;
}

int srv_accepted(const struct srv *s)
{
    return s->accepted;
}

int srv_requests(const struct srv *s)
{
    return s->requests;
}

static void on_srv_closed(uv_handle_t *h)
{
    free(h->data);
}

static void close_conns(uv_handle_t *h, void *arg)
{
    struct srv *s = arg;

    if (h->type == UV_TCP && h->data && h != (uv_handle_t *)&s->tcp && !uv_is_closing(h) &&
        ((struct conn *)h->data)->srv == s)
        uv_close(h, on_conn_closed);
}

void srv_stop(struct srv *s)
{
    uv_walk(s->tcp.loop, close_conns, s);
    uv_close((uv_handle_t *)&s->tcp, on_srv_closed);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void srv_loop_finish(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    uv_walk(loop, close_any, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}
