/*
 * test_http.c - the curl-multi-on-libuv HTTP engine (controller/http.h),
 * against a small keep-alive HTTP/1.1 server running on the same loop.
 *
 * Server paths (tests/unit/support_srv.h): /ok (200, JSON, Azure headers),
 * /echo (200, body = request body, x-len = its length), /big (10 MiB body),
 * /hang (never answers).
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "http.h"
#include "rc_err.h"
#include "support_srv.h"

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

static char *g_big; /* 10 MiB of 'x' for /big */
#define BIG_LEN (10u * 1024 * 1024)

static void handler(void *arg, const struct srv_req *req, struct srv_resp *resp)
{
    (void)arg;
    if (strcmp(req->target, "/hang") == 0) {
        resp->hang = true;
    } else if (strcmp(req->target, "/big") == 0) {
        if (!g_big) {
            g_big = malloc(BIG_LEN);
            assert_non_null(g_big);
            memset(g_big, 'x', BIG_LEN);
        }
        resp->body = g_big;
        resp->body_len = BIG_LEN;
    } else if (strcmp(req->target, "/echo") == 0) {
        snprintf(resp->headers, sizeof(resp->headers),
                 "Content-Type: application/json\r\nx-len: %zu\r\n", req->body_len);
        resp->body = req->body;
        resp->body_len = req->body_len;
    } else {
        snprintf(resp->headers, sizeof(resp->headers),
                 "Content-Type: application/json; charset=utf-8\r\n"
                 "X-Ms-Ratelimit-Remaining-Subscription-Reads:  249 \r\nRetry-After: 7\r\n");
        resp->body = "{\"ok\":true}";
        resp->body_len = strlen(resp->body);
    }
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
    struct srv *srv;
    struct result res = {0};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, NULL);
    h = http_new(&loop, NULL);
    assert_non_null(h);
    request(h, "GET", srv_port(srv), "/ok", NULL, &res);
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
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* A PUT body arrives intact. */
static void test_put_body(void **state)
{
    uv_loop_t loop;
    struct srv *srv;
    struct result res = {0};
    struct http *h;
    const char *body = "{\"sku\":{\"capacity\":5}}";

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, NULL);
    h = http_new(&loop, NULL);
    request(h, "PUT", srv_port(srv), "/echo", body, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, body);
    assert_string_equal(res.xlen, "22");
    http_free(h);
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* Nothing listening: status 0 and a transient error (the caller backs off). */
static void test_refused_is_transient(void **state)
{
    uv_loop_t loop;
    struct srv *srv;
    struct result res = {0};
    struct http *h;
    int port;

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, NULL);
    port = srv_port(srv);
    srv_stop(srv); /* free the port: nothing listens there now */
    uv_run(&loop, UV_RUN_NOWAIT);
    h = http_new(&loop, NULL);
    request(h, "GET", port, "/ok", NULL, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.err_code, -RC_ETRANSIENT);
    assert_int_equal(res.klass, RC_CLASS_TRANSIENT);
    http_free(h);
    srv_loop_finish(&loop);
}

/* A body over HTTP_BODY_MAX fails with ELIMIT instead of growing without bound. */
static void test_body_limit(void **state)
{
    uv_loop_t loop;
    struct srv *srv;
    struct result res = {0};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, NULL);
    h = http_new(&loop, NULL);
    request(h, "GET", srv_port(srv), "/big", NULL, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.err_code, -RC_ELIMIT);
    http_free(h);
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* A server that never answers: the request times out, transiently. */
static void test_timeout(void **state)
{
    uv_loop_t loop;
    struct srv *srv;
    struct result res = {0};
    struct http_opts opts = {.timeout_ms = 200};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, NULL);
    h = http_new(&loop, &opts);
    request(h, "GET", srv_port(srv), "/hang", NULL, &res);
    while (res.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.klass, RC_CLASS_TRANSIENT);
    http_free(h);
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* http_free completes what is pending exactly once, with a cancel error. */
static void test_free_cancels_pending(void **state)
{
    uv_loop_t loop;
    struct srv *srv;
    struct result res[3] = {{0}};
    struct http *h;

    (void)state;
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, NULL);
    h = http_new(&loop, NULL);
    for (int i = 0; i < 3; i++)
        request(h, "GET", srv_port(srv), "/hang", NULL, &res[i]);
    uv_run(&loop, UV_RUN_NOWAIT);
    http_free(h);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].status, 0);
        assert_int_equal(res[i].err_code, -RC_ETRANSIENT);
    }
    srv_stop(srv);
    srv_loop_finish(&loop);
}

/* 100 concurrent requests all complete once, over a bounded number of reused
 * connections. */
static void test_concurrency_and_reuse(void **state)
{
    uv_loop_t loop;
    struct srv *srv;
    struct result *res = calloc(100, sizeof(*res));
    struct http_opts opts = {.max_host_connections = 4};
    struct http *h;
    int done;

    (void)state;
    assert_non_null(res);
    uv_loop_init(&loop);
    srv = srv_start(&loop, handler, NULL);
    h = http_new(&loop, &opts);
    for (int i = 0; i < 100; i++)
        request(h, "GET", srv_port(srv), "/ok", NULL, &res[i]);
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
    assert_true(srv_accepted(srv) <= 4);
    http_free(h);
    srv_stop(srv);
    srv_loop_finish(&loop);
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
    int r = az_run_tests("http", tests);

    free(g_big);
    return r;
}
