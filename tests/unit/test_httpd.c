/*
 * test_httpd.c - the HTTP listener (controller/httpd.h) on a libuv loop shared
 * with the libcurl client (controller/http.h), as in the controller: DESIGN.md
 * §3 says lws with a foreign uv loop serves HTTP beside curl multi and the loop
 * closes cleanly after lws_context_destroy. This proves it on this machine.
 */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "http.h"
#include "httpd.h"
#include "rc_err.h"

#define BIG (200 * 1024)

static int g_handled;

static char *dup_text(const char *s, size_t *ret_len)
{
    char *b = strdup(s);

    *ret_len = b ? strlen(b) : 0;
    return b;
}

static void handler(void *arg, const struct httpd_req *req, struct httpd_resp *resp)
{
    (void)arg;
    g_handled++;
    if (strcmp(req->path, "/healthz") == 0) {
        resp->body = dup_text("ok\n", &resp->len);
    } else if (strcmp(req->path, "/metrics") == 0) {
        resp->body = malloc(BIG);
        assert_non_null(resp->body);
        for (size_t i = 0; i < BIG; i++)
            resp->body[i] = (char)('a' + i % 26);
        resp->len = BIG;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(req->path, "/echo") == 0) {
        char buf[256];

        snprintf(buf, sizeof(buf), "%s %s ?%s", req->method, req->path, req->query);
        resp->body = dup_text(buf, &resp->len);
    } else {
        resp->status = 404;
        resp->body = dup_text("not found\n", &resp->len);
    }
}

struct got {
    int calls;
    long status;
    size_t len;
    char head[256];
    char ctype[128];
    int body_ok;
};

static void on_done(void *arg, const struct http_response *resp)
{
    struct got *g = arg;
    const char *ct = http_header(resp, "content-type");

    g->calls++;
    g->status = resp->status;
    g->len = resp->body_len;
    snprintf(g->head, sizeof(g->head), "%.*s", (int)(resp->body_len < 255 ? resp->body_len : 255),
             resp->body);
    snprintf(g->ctype, sizeof(g->ctype), "%s", ct ? ct : "");
    g->body_ok = 1;
    for (size_t i = 0; i < resp->body_len && resp->body_len == BIG; i++)
        if (resp->body[i] != (char)('a' + i % 26))
            g->body_ok = 0;
}

static void fetch(uv_loop_t *loop, struct http *c, int port, const char *method, const char *path,
                  struct got *g)
{
    char url[256];
    struct rc_err err = {0};

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    assert_int_equal(http_request(c, method, url, NULL, 0, NULL, 0, on_done, g, &err), 0);
    while (g->calls == 0)
        uv_run(loop, UV_RUN_ONCE);
}

/* GET, HEAD, a 200 KiB body in chunks, 404 from the handler, 405 for POST,
 * keep-alive, and a clean loop close after shutdown. */
static void test_serves_on_shared_loop(void **state)
{
    uv_loop_t loop;
    struct rc_err err = {0};
    struct httpd *d;
    struct http *c;
    struct got g1 = {0}, g2 = {0}, g3 = {0}, g4 = {0}, g5 = {0}, g6 = {0};
    int port;

    (void)state;
    uv_loop_init(&loop);
    d = httpd_new(&loop, "127.0.0.1", 0, handler, NULL, &err);
    assert_non_null(d);
    port = httpd_port(d);
    assert_true(port > 0);
    c = http_new(&loop, NULL);
    assert_non_null(c);

    fetch(&loop, c, port, "GET", "/healthz", &g1);
    assert_int_equal(g1.status, 200);
    assert_string_equal(g1.head, "ok\n");

    fetch(&loop, c, port, "GET", "/metrics", &g2);
    assert_int_equal(g2.status, 200);
    assert_int_equal(g2.len, BIG);
    assert_true(g2.body_ok);
    assert_string_equal(g2.ctype, "text/plain; version=0.0.4; charset=utf-8");

    fetch(&loop, c, port, "GET", "/nope", &g3);
    assert_int_equal(g3.status, 404);

    fetch(&loop, c, port, "POST", "/healthz", &g4);
    assert_int_equal(g4.status, 405);

    fetch(&loop, c, port, "HEAD", "/healthz", &g5);
    assert_int_equal(g5.status, 200);
    assert_int_equal(g5.len, 0);

    fetch(&loop, c, port, "GET", "/echo?watch=1", &g6);
    assert_string_equal(g6.head, "GET /echo ?watch=1");

    assert_int_equal(g_handled, 5); /* POST never reached the handler */

    http_free(c);
    httpd_close(d);
    uv_run(&loop, UV_RUN_DEFAULT);
    httpd_free(d);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_parse_listen(void **state)
{
    char addr[64];
    int port = 0;
    struct rc_err err = {0};

    (void)state;
    assert_int_equal(httpd_parse_listen("127.0.0.1:9440", addr, sizeof(addr), &port, &err), 0);
    assert_string_equal(addr, "127.0.0.1");
    assert_int_equal(port, 9440);
    assert_int_equal(httpd_parse_listen("[::1]:80", addr, sizeof(addr), &port, &err), 0);
    assert_string_equal(addr, "::1");
    assert_int_equal(httpd_parse_listen(":9440", addr, sizeof(addr), &port, &err), 0);
    assert_string_equal(addr, "");
    assert_int_equal(httpd_parse_listen("9440", addr, sizeof(addr), &port, &err), -RC_EINVAL);
    assert_int_equal(httpd_parse_listen("h:99999", addr, sizeof(addr), &port, &err), -RC_EINVAL);
    assert_int_equal(httpd_parse_listen("h:", addr, sizeof(addr), &port, &err), -RC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_on_shared_loop),
        cmocka_unit_test(test_parse_listen),
    };
    return az_run_tests("httpd", tests);
}
