/*
 * test_http.c - the curl-multi-on-libuv HTTP engine (controller/http.h),
 * against a small keep-alive HTTP/1.1 server running on the same loop.
 *
 * Server paths: /ok (200, JSON, Azure headers), /echo (200, body = request
 * body, x-len = its length), /big (10 MiB body), /hang (never answers).
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "http.h"
#include "rc_err.h"

struct conn {
    uv_tcp_t tcp;
    char buf[65536];
    size_t len;
};

struct server {
    uv_tcp_t tcp;
    int port;
    int accepted;
};

struct result {
    int calls;
    long status;
    int err_code;
    enum rc_err_class klass;
    size_t body_len;
    char body[256];
    char ratelimit[32];
    char retry_after[16];
    char xlen[16];
    bool in_request; /* set while http_request runs: the callback must not see it */
    bool called_inside;
};

static void on_closed(uv_handle_t *h)
{
    free(h->data);
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
    char *copy = malloc(len);
    uv_buf_t b;

    assert_non_null(w);
    assert_non_null(copy);
    memcpy(copy, data, len);
    w->data = copy;
    b = uv_buf_init(copy, (unsigned)len);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

static void respond(struct conn *c, const char *path, const char *body, size_t body_len)
{
    char head[512];
    int n;

    if (strcmp(path, "/hang") == 0)
        return;
    if (strcmp(path, "/big") == 0) {
        size_t big = 10u * 1024 * 1024;
        char *data = malloc(big);

        assert_non_null(data);
        memset(data, 'x', big);
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", big);
        send_raw(c, head, (size_t)n);
        send_raw(c, data, big);
        free(data);
        return;
    }
    if (strcmp(path, "/echo") == 0) {
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-len: %zu\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     body_len, body_len);
        send_raw(c, head, (size_t)n);
        if (body_len)
            send_raw(c, body, body_len);
        return;
    }
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                 "X-Ms-Ratelimit-Remaining-Subscription-Reads:  249 \r\n"
                 "Retry-After: 7\r\nContent-Length: 11\r\n\r\n{\"ok\":true}");
    send_raw(c, head, (size_t)n);
}

/* Handles every complete request in the buffer (keep-alive, pipelining). */
static void serve_buffer(struct conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        char path[64] = "";
        size_t head_len, body_len = 0;
        const char *cl;

        if (!end)
            return;
        head_len = (size_t)(end - c->buf) + 4;
        cl = strcasestr(c->buf, "content-length:");
        if (cl && cl < end)
            body_len = (size_t)strtoul(cl + 15, NULL, 10);
        if (c->len < head_len + body_len)
            return;
        sscanf(c->buf, "%*s %63s", path);
        respond(c, path, c->buf + head_len, body_len);
        memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
        c->len -= head_len + body_len;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;

    (void)buf;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    c->len += (size_t)n;
    serve_buffer(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;
    struct conn *c = calloc(1, sizeof(*c));

    assert_int_equal(status, 0);
    assert_non_null(c);
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(listener, (uv_stream_t *)&c->tcp), 0);
    srv->accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void server_start(uv_loop_t *loop, struct server *srv)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &srv->tcp);
    srv->tcp.data = srv;
    assert_int_equal(uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv->tcp, 128, on_connection), 0);
    uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &len);
    srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    /* Connections carry their struct conn in data; the listener's data is NULL. */
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h->data ? on_closed : NULL);
}

/* Closes the server and every connection, runs the loop dry, checks it closes. */
static void loop_finish(uv_loop_t *loop, struct server *srv)
{
    srv->tcp.data = NULL;
    uv_walk(loop, close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void on_done(void *arg, const struct http_response *resp)
{
    struct result *res = arg;
    const char *v;

    res->calls++;
    res->called_inside = res->in_request;
    res->status = resp->status;
    res->err_code = resp->err.code;
    res->klass = resp->err.klass;
    res->body_len = resp->body_len;
    snprintf(res->body, sizeof(res->body), "%s", resp->body);
    v = http_header(resp, "x-ms-ratelimit-remaining-subscription-reads");
    snprintf(res->ratelimit, sizeof(res->ratelimit), "%s", v ? v : "");
    v = http_header(resp, "Retry-After");
    snprintf(res->retry_after, sizeof(res->retry_after), "%s", v ? v : "");
    v = http_header(resp, "x-len");
    snprintf(res->xlen, sizeof(res->xlen), "%s", v ? v : "");
}

static void request(struct http *h, const char *method, int port, const char *path,
                    const char *body, struct result *res)
{
    char url[128];
    const char *hdrs[] = {"Content-Type: application/json", "x-ms-correlation-request-id: t"};
    struct rc_err err = {0};

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    res->in_request = true;
    assert_int_equal(
        http_request(h, method, url, hdrs, 2, body, body ? strlen(body) : 0, on_done, res, &err),
        0);
    res->in_request = false;
}

/* A GET completes from the loop (never inside http_request) with status, body
 * and the Azure headers, names matched case-insensitively and values trimmed. */
static void test_get_ok(void **state)
{
    uv_loop_t loop;
    struct server srv = {0};
    struct result res = {0};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    h = http_new(&loop, NULL);
    assert_non_null(h);
    request(h, "GET", srv.port, "/ok", NULL, &res);
    assert_int_equal(res.calls, 0);
    assert_int_equal(http_pending(h), 1);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_false(res.called_inside);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.err_code, 0);
    assert_string_equal(res.body, "{\"ok\":true}");
    assert_string_equal(res.ratelimit, "249");
    assert_string_equal(res.retry_after, "7");
    assert_int_equal(http_pending(h), 0);
    http_free(h);
    loop_finish(&loop, &srv);
}

/* A PUT body arrives intact. */
static void test_put_body(void **state)
{
    uv_loop_t loop;
    struct server srv = {0};
    struct result res = {0};
    struct http *h;
    const char *body = "{\"sku\":{\"capacity\":5}}";

    (void)state;
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    h = http_new(&loop, NULL);
    request(h, "PUT", srv.port, "/echo", body, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, body);
    assert_string_equal(res.xlen, "22");
    http_free(h);
    loop_finish(&loop, &srv);
}

/* Nothing listening: status 0 and a transient error (the caller backs off). */
static void test_refused_is_transient(void **state)
{
    uv_loop_t loop;
    struct server srv = {0};
    struct result res = {0};
    struct http *h;
    int port;

    (void)state;
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    port = srv.port;
    uv_close((uv_handle_t *)&srv.tcp, NULL); /* free the port: nothing listens there now */
    uv_run(&loop, UV_RUN_NOWAIT);
    h = http_new(&loop, NULL);
    request(h, "GET", port, "/ok", NULL, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.err_code, -RC_ETRANSIENT);
    assert_int_equal(res.klass, RC_CLASS_TRANSIENT);
    http_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A body over HTTP_BODY_MAX fails with ELIMIT instead of growing without bound. */
static void test_body_limit(void **state)
{
    uv_loop_t loop;
    struct server srv = {0};
    struct result res = {0};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    h = http_new(&loop, NULL);
    request(h, "GET", srv.port, "/big", NULL, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.err_code, -RC_ELIMIT);
    http_free(h);
    loop_finish(&loop, &srv);
}

/* A server that never answers: the request times out, transiently. */
static void test_timeout(void **state)
{
    uv_loop_t loop;
    struct server srv = {0};
    struct result res = {0};
    struct http_opts opts = {.timeout_ms = 200};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    h = http_new(&loop, &opts);
    request(h, "GET", srv.port, "/hang", NULL, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.klass, RC_CLASS_TRANSIENT);
    http_free(h);
    loop_finish(&loop, &srv);
}

/* http_free completes what is pending exactly once, with a cancel error. */
static void test_free_cancels_pending(void **state)
{
    uv_loop_t loop;
    struct server srv = {0};
    struct result res[3] = {{0}};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    h = http_new(&loop, NULL);
    for (int i = 0; i < 3; i++)
        request(h, "GET", srv.port, "/hang", NULL, &res[i]);
    uv_run(&loop, UV_RUN_NOWAIT);
    http_free(h);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].status, 0);
        assert_int_equal(res[i].err_code, -RC_ETRANSIENT);
    }
    loop_finish(&loop, &srv);
}

/* 100 concurrent requests all complete once, over a bounded number of reused
 * connections. */
static void test_concurrency_and_reuse(void **state)
{
    uv_loop_t loop;
    struct server srv = {0};
    struct result *res = calloc(100, sizeof(*res));
    struct http_opts opts = {.max_host_connections = 4};
    struct http *h;
    int done;

    (void)state;
    assert_non_null(res);
    uv_loop_init(&loop);
    server_start(&loop, &srv);
    h = http_new(&loop, &opts);
    for (int i = 0; i < 100; i++)
        request(h, "GET", srv.port, "/ok", NULL, &res[i]);
    do {
        uv_run(&loop, UV_RUN_ONCE);
        done = 0;
        for (int i = 0; i < 100; i++)
            done += res[i].calls;
    } while (done < 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].status, 200);
    }
    assert_true(srv.accepted <= 4);
    http_free(h);
    loop_finish(&loop, &srv);
    free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_ok),
        cmocka_unit_test(test_put_body),
        cmocka_unit_test(test_refused_is_transient),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_free_cancels_pending),
        cmocka_unit_test(test_concurrency_and_reuse),
    };
    return az_run_tests("http", tests);
}
