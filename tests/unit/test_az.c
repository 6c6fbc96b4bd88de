/*
 * test_az.c - the ARM client (controller/az_arm.h, az_cred.h) against a
 * scripted server speaking the wire shapes of shared/reference/azure-arm.md:
 * token endpoint, IMDS, paging, both LRO styles, 429 with Retry-After, 401.
 */
#include "test_main.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "az.h"
#include "az_arm.h"
#include "az_cred.h"
#include "http.h"
#include "rc_err.h"
#include "support_srv.h"

struct world {
    uv_loop_t *loop;
    int port;
    int token_requests, imds_requests;
    int polls;
    int accepted_polls;    /* of /operations/opacc: must stay 0 */
    int throttle_left;     /* 429s still to send on /throttled */
    uint64_t paused_until; /* uv_now() until which no read may arrive */
    int reads_during_pause;
    int unauthorized_left; /* 401s still to send */
    char last_auth[256];
    char body[8192];
};

struct outcome {
    int calls;
    long status;
    int code;
    enum rc_err_class klass;
    char azure_code[64];
    char text[4096];
    bool accepted;
    int64_t retry_after_ms;
};

static void reply(struct srv_resp *resp, struct world *w, int status, const char *json)
{
    resp->status = status;
    snprintf(w->body, sizeof(w->body), "%s", json);
    resp->body = w->body;
    resp->body_len = strlen(w->body);
    snprintf(resp->headers + strlen(resp->headers), sizeof(resp->headers) - strlen(resp->headers),
             "Content-Type: application/json; charset=utf-8\r\n");
}

/* Appends "Name: http://127.0.0.1:<port><path>\r\n" (a polling URL on this server). */
static void header_url(struct srv_resp *resp, const char *name, int port, const char *path)
{
    size_t n = strlen(resp->headers);

    snprintf(resp->headers + n, sizeof(resp->headers) - n, "%s: http://127.0.0.1:%d%s\r\n", name,
             port, path);
}

static void header_line(struct srv_resp *resp, const char *line)
{
    size_t n = strlen(resp->headers);

    snprintf(resp->headers + n, sizeof(resp->headers) - n, "%s\r\n", line);
}

static void handler(void *arg, const struct srv_req *req, struct srv_resp *resp)
{
    struct world *w = arg;
    const char *t = req->target;
    char buf[256];

    if (strstr(t, "/oauth2/v2.0/token")) {
        w->token_requests++;
        assert_non_null(strstr(req->body, "grant_type=client_credentials"));
        assert_non_null(strstr(req->body, "client_secret=s3cr%2Bt"));
        reply(resp, w, 200,
              "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
              "\"access_token\":\"tok-1\"}");
        return;
    }
    if (strncmp(t, "/metadata/identity/oauth2/token", 31) == 0) {
        w->imds_requests++;
        if (!srv_header(req, "Metadata", buf, sizeof(buf)) || strcmp(buf, "true") != 0) {
            reply(resp, w, 400,
                  "{\"error\":\"invalid_request\",\"error_description\":"
                  "\"Required metadata header not specified\"}");
            return;
        }
        assert_non_null(strstr(t, "resource=https%3A%2F%2Fmanagement.azure.com%2F"));
        reply(resp, w, 200,
              "{\"access_token\":\"tok-imds\",\"expires_in\":\"3599\","
              "\"expires_on\":\"1795431600\",\"token_type\":\"Bearer\"}");
        return;
    }
    if (srv_header(req, "Authorization", buf, sizeof(buf)))
        snprintf(w->last_auth, sizeof(w->last_auth), "%s", buf);
    if (strcmp(req->method, "GET") == 0 && uv_now(w->loop) < w->paused_until)
        w->reads_during_pause++;
    if (strstr(t, "/unauthorized") && w->unauthorized_left > 0) {
        w->unauthorized_left--;
        reply(resp, w, 401,
              "{\"error\":{\"code\":\"ExpiredAuthenticationToken\","
              "\"message\":\"The access token expiry UTC time has passed.\"}}");
        return;
    }
    if (strstr(t, "/throttled") && w->throttle_left > 0) {
        w->throttle_left--;
        w->paused_until = uv_now(w->loop) + 1000;
        snprintf(resp->headers, sizeof(resp->headers), "Retry-After: 1\r\n");
        reply(resp, w, 429,
              "{\"error\":{\"code\":\"SubscriptionRequestsThrottled\","
              "\"message\":\"Number of 'read' requests exceeded.\"}}");
        return;
    }
    if (strstr(t, "/list?")) {
        header_line(resp, "x-ms-ratelimit-remaining-subscription-reads: 249");
        if (strstr(t, "skiptoken=2")) {
            reply(resp, w, 200, "{\"value\":[{\"name\":\"d\"},{\"name\":\"e\"}]}");
        } else if (strstr(t, "skiptoken=1")) {
            snprintf(buf, sizeof(buf),
                     "{\"value\":[],\"nextLink\":\"http://127.0.0.1:%d/list?"
                     "api-version=x&$skiptoken=2\"}",
                     w->port);
            reply(resp, w, 200, buf);
        } else {
            char body[512];

            snprintf(body, sizeof(body),
                     "{\"value\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}],"
                     "\"nextLink\":\"http://127.0.0.1:%d/list?api-version=x&$skiptoken=1\"}",
                     w->port);
            reply(resp, w, 200, body);
        }
        return;
    }
    if (strstr(t, "/evil-list?")) {
        reply(resp, w, 200, "{\"value\":[],\"nextLink\":\"http://evil.example/steal\"}");
        return;
    }
    if (strstr(t, "/vmss/a?") && strcmp(req->method, "PUT") == 0) {
        header_url(resp, "Azure-AsyncOperation", w->port, "/operations/op1?api-version=x");
        header_line(resp, "Retry-After: 0");
        reply(resp, w, 201, "{\"name\":\"a\",\"properties\":{\"provisioningState\":\"Creating\"}}");
        return;
    }
    if (strstr(t, "/vmss/a?") && strcmp(req->method, "GET") == 0) {
        reply(resp, w, 200,
              "{\"name\":\"a\",\"properties\":{\"provisioningState\":\"Succeeded\"}}");
        return;
    }
    if (strstr(t, "/vmss/acc?") && strcmp(req->method, "PUT") == 0) {
        header_url(resp, "Azure-AsyncOperation", w->port, "/operations/opacc?api-version=x");
        header_line(resp, "Retry-After: 7");
        reply(resp, w, 201,
              "{\"name\":\"acc\",\"properties\":{\"provisioningState\":\"Creating\"}}");
        return;
    }
    if (strstr(t, "/operations/opacc")) {
        w->accepted_polls++;
        reply(resp, w, 200, "{\"status\":\"InProgress\"}");
        return;
    }
    if (strstr(t, "/vmss/hidden?") && strcmp(req->method, "PUT") == 0) {
        header_url(resp, "Azure-AsyncOperation", w->port, "/operations/op1?api-version=x");
        header_line(resp, "Retry-After: 0");
        reply(resp, w, 202, "");
        resp->body_len = 0;
        return;
    }
    if (strstr(t, "/vmss/hidden?") && strcmp(req->method, "GET") == 0) {
        reply(resp, w, 200,
              "{\"name\":\"hidden\",\"properties\":{\"provisioningState\":\"Succeeded\"}}");
        return;
    }
    if (strstr(t, "/operations/op1")) {
        w->polls++;
        snprintf(resp->headers, sizeof(resp->headers), "Retry-After: 0\r\n");
        reply(resp, w, 200,
              w->polls < 3 ? "{\"status\":\"InProgress\"}" : "{\"status\":\"Succeeded\"}");
        return;
    }
    if (strstr(t, "/vmss/bad?")) {
        header_url(resp, "Azure-AsyncOperation", w->port, "/operations/opfail?api-version=x");
        reply(resp, w, 201, "{\"properties\":{\"provisioningState\":\"Creating\"}}");
        return;
    }
    if (strstr(t, "/operations/opfail")) {
        snprintf(resp->headers, sizeof(resp->headers), "Retry-After: 0\r\n");
        reply(resp, w, 200,
              "{\"status\":\"Failed\",\"error\":{\"code\":\"AllocationFailed\","
              "\"message\":\"Allocation failed.\"}}");
        return;
    }
    if (strstr(t, "/vm/x?") && strcmp(req->method, "DELETE") == 0) {
        header_url(resp, "Location", w->port, "/locresult/1?api-version=x");
        header_line(resp, "Retry-After: 0");
        reply(resp, w, 202, "");
        resp->body_len = 0;
        return;
    }
    if (strstr(t, "/locresult/1")) {
        w->polls++;
        if (w->polls < 2) {
            snprintf(resp->headers, sizeof(resp->headers), "Retry-After: 0\r\n");
            resp->status = 202;
            return;
        }
        resp->status = 204;
        return;
    }
    reply(resp, w, 404,
          "{\"error\":{\"code\":\"ResourceNotFound\",\"message\":\"The Resource "
          "'Microsoft.Compute/virtualMachines/x' under resource group 'rg' was not found.\"}}");
}

static void on_result(void *arg, const struct az_result *res)
{
    struct outcome *out = arg;

    out->calls++;
    out->status = res->status;
    out->code = res->err.code;
    out->klass = res->err.klass;
    snprintf(out->azure_code, sizeof(out->azure_code), "%s", res->azure_code);
    out->accepted = res->accepted;
    out->retry_after_ms = res->retry_after_ms;
    if (res->body) {
        char *s = json_dumps(res->body, JSON_COMPACT | JSON_SORT_KEYS);

        snprintf(out->text, sizeof(out->text), "%s", s ? s : "");
        free(s);
    }
}

struct rig {
    uv_loop_t loop;
    struct world w;
    struct srv *srv;
    struct http *http;
    struct az_cred *cred;
    struct az_arm *arm;
    struct az_ops ops;
};

static void rig_up(struct rig *r, enum az_cred_kind kind)
{
    struct az_cred_config cfg = {0};
    char authority[64], endpoint[64];

    memset(r, 0, sizeof(*r));
    uv_loop_init(&r->loop);
    r->w.loop = &r->loop;
    r->srv = srv_start(&r->loop, handler, &r->w);
    r->w.port = srv_port(r->srv);
    snprintf(authority, sizeof(authority), "http://127.0.0.1:%d/", r->w.port);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", r->w.port);
    r->http = http_new(&r->loop, NULL);
    assert_non_null(r->http);
    cfg.kind = kind;
    cfg.tenant_id = "tenant";
    cfg.client_id = "client";
    cfg.client_secret = "s3cr+t";
    cfg.authority_host = authority; /* trailing slash as AKS injects it */
    cfg.imds_endpoint = endpoint;
    cfg.scope = "https://management.azure.com/.default";
    r->cred = az_cred_new(&r->loop, r->http, &cfg);
    assert_non_null(r->cred);
    r->arm = az_arm_new(&r->loop, r->http, r->cred, endpoint);
    assert_non_null(r->arm);
    az_arm_set_backoff(r->arm, 5);
    az_arm_ops(r->arm, &r->ops);
}

static void rig_down(struct rig *r)
{
    http_free(r->http);
    az_arm_free(r->arm);
    az_cred_free(r->cred);
    srv_stop(r->srv);
    srv_loop_finish(&r->loop);
}

static void wait_for(struct rig *r, const struct outcome *out, int calls)
{
    while (out->calls < calls)
        uv_run(&r->loop, UV_RUN_ONCE);
}

/* A list follows nextLink through an empty page and returns every item; the
 * token is fetched once and sent as a bearer token. */
static void test_list_pages(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.list(r.ops.self, "/list", "2024-11-01", on_result, &out, &err), 0);
    assert_int_equal(out.calls, 0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.code, 0);
    assert_string_equal(out.text, "{\"value\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":"
                                  "\"c\"},{\"name\":\"d\"},{\"name\":\"e\"}]}");
    assert_int_equal(r.w.token_requests, 1);
    assert_string_equal(r.w.last_auth, "Bearer tok-1");
    assert_int_equal(az_arm_stats(r.arm)->remaining[AZ_BUCKET_READS], 249);
    rig_down(&r);
}

/* PUT answered 201 + Azure-AsyncOperation: polled until Succeeded, then the
 * resource is read once more; the caller sees the final state. */
static void test_put_async_operation(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};
    json_t *body = json_pack("{s:s}", "location", "westeurope");

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.write(r.ops.self, RC_HTTP_PUT, "/vmss/a", "2024-11-01", body, 0,
                                 on_result, &out, &err),
                     0);
    json_decref(body);
    wait_for(&r, &out, 1);
    assert_int_equal(out.code, 0);
    assert_int_equal(out.status, 200);
    assert_int_equal(r.w.polls, 3);
    assert_non_null(strstr(out.text, "\"provisioningState\":\"Succeeded\""));
    rig_down(&r);
}

/* An operation that ends Failed reports its error code, classified terminal. */
static void test_lro_failed(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.write(r.ops.self, RC_HTTP_PUT, "/vmss/bad", "2024-11-01", NULL, 0,
                                 on_result, &out, &err),
                     0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.code, -RC_ECONFLICT);
    assert_int_equal(out.klass, RC_CLASS_TERMINAL);
    assert_string_equal(out.azure_code, "AllocationFailed");
    rig_down(&r);
}

/* DELETE answered 202 + Location: 202 while running, then 204. */
static void test_delete_location(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.write(r.ops.self, RC_HTTP_DELETE, "/vm/x", "2024-11-01", NULL, 0,
                                 on_result, &out, &err),
                     0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.code, 0);
    assert_int_equal(out.status, 204);
    assert_int_equal(r.w.polls, 2);
    rig_down(&r);
}

/* AZ_WRITE_ACCEPT: a PUT answered 201 + Azure-AsyncOperation (the resource
 * visible, Creating) completes at once, accepted, with its Retry-After and
 * without a single poll; a DELETE answered 202 + Location likewise. */
static void test_accept_completes_without_polling(void **state)
{
    struct rig r;
    struct outcome out = {0}, del = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.write(r.ops.self, RC_HTTP_PUT, "/vmss/acc", "2024-11-01", NULL,
                                 AZ_WRITE_ACCEPT, on_result, &out, &err),
                     0);
    assert_int_equal(r.ops.write(r.ops.self, RC_HTTP_DELETE, "/vm/x", "2024-11-01", NULL,
                                 AZ_WRITE_ACCEPT, on_result, &del, &err),
                     0);
    wait_for(&r, &out, 1);
    wait_for(&r, &del, 1);
    assert_int_equal(out.code, 0);
    assert_int_equal(out.status, 201);
    assert_true(out.accepted);
    assert_int_equal(out.retry_after_ms, 7000);
    assert_non_null(strstr(out.text, "\"provisioningState\":\"Creating\""));
    assert_int_equal(del.code, 0);
    assert_int_equal(del.status, 202);
    assert_true(del.accepted);
    /* a little more loop time: nothing polls behind the caller's back */
    for (int i = 0; i < 20; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    assert_int_equal(r.w.accepted_polls, 0);
    assert_int_equal(r.w.polls, 0);
    rig_down(&r);
}

/* AZ_WRITE_ACCEPT does not apply to a PUT answered 202: the resource stays
 * invisible until its operation ends (a next observe would create it again),
 * so it is followed to its end as without the flag. */
static void test_accept_follows_hidden_put(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.write(r.ops.self, RC_HTTP_PUT, "/vmss/hidden", "2024-11-01", NULL,
                                 AZ_WRITE_ACCEPT, on_result, &out, &err),
                     0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.code, 0);
    assert_false(out.accepted);
    assert_int_equal(out.status, 200);
    assert_int_equal(r.w.polls, 3);
    assert_non_null(strstr(out.text, "\"provisioningState\":\"Succeeded\""));
    rig_down(&r);
}

/* 404 is not-found with the ARM error code (idempotency rules depend on it). */
static void test_not_found(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.get(r.ops.self, "/vm/missing", "2024-11-01", on_result, &out, &err), 0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.status, 404);
    assert_int_equal(out.klass, RC_CLASS_NOTFOUND);
    assert_string_equal(out.azure_code, "ResourceNotFound");
    rig_down(&r);
}

/* A 429 pauses the whole reads bucket for Retry-After: another read started
 * meanwhile is held back, nothing reaches the server during the pause, and
 * both complete afterwards. */
static void test_throttle_pauses_bucket(void **state)
{
    struct rig r;
    struct outcome a = {0}, b = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    r.w.throttle_left = 1;
    assert_int_equal(r.ops.get(r.ops.self, "/throttled", "2024-11-01", on_result, &a, &err), 0);
    while (az_arm_stats(r.arm)->throttled == 0) /* until the client has seen the 429 */
        uv_run(&r.loop, UV_RUN_ONCE);
    assert_int_equal(r.ops.get(r.ops.self, "/list", "2024-11-01", on_result, &b, &err), 0);
    wait_for(&r, &a, 1);
    wait_for(&r, &b, 1);
    assert_int_equal(a.status, 404); /* /throttled, once through, is an unknown path */
    assert_int_equal(b.code, 0);
    assert_int_equal(r.w.reads_during_pause, 0);
    assert_int_equal(az_arm_stats(r.arm)->throttled, 1);
    assert_true(az_arm_stats(r.arm)->throttled_seconds >= 0.9);
    rig_down(&r);
}

/* A 401 drops the cached token, fetches a new one and retries once. */
static void test_unauthorized_refetches_token(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    r.w.unauthorized_left = 1;
    assert_int_equal(r.ops.get(r.ops.self, "/unauthorized", "2024-11-01", on_result, &out, &err),
                     0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.status, 404); /* got through after re-authenticating */
    assert_int_equal(r.w.token_requests, 2);
    rig_down(&r);
}

/* A nextLink to another host is refused: the token never leaves the endpoint. */
static void test_foreign_next_link_refused(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_SECRET);
    assert_int_equal(r.ops.list(r.ops.self, "/evil-list", "2024-11-01", on_result, &out, &err), 0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.code, -RC_EPROTO);
    rig_down(&r);
}

/* Managed identity: IMDS with Metadata: true and the v1 resource; string
 * expires_in is understood. */
static void test_imds_token(void **state)
{
    struct rig r;
    struct outcome out = {0};
    struct rc_err err = {0};

    (void)state;
    rig_up(&r, AZ_CRED_IMDS);
    assert_int_equal(r.ops.get(r.ops.self, "/vmss/a", "2024-11-01", on_result, &out, &err), 0);
    wait_for(&r, &out, 1);
    assert_int_equal(out.code, 0);
    assert_int_equal(r.w.imds_requests, 1);
    assert_int_equal(r.w.token_requests, 0);
    assert_string_equal(r.w.last_auth, "Bearer tok-imds");
    rig_down(&r);
}

/* Retry-After parsing: ms variants win, seconds, HTTP dates, garbage. */
static void test_retry_after_parsing(void **state)
{
    (void)state;
    assert_int_equal(az_retry_after_ms("250", "900", "7", 0), 250);
    assert_int_equal(az_retry_after_ms(NULL, "900", "7", 0), 900);
    assert_int_equal(az_retry_after_ms(NULL, NULL, "7", 0), 7000);
    assert_int_equal(az_retry_after_ms(NULL, NULL, "0", 0), 0);
    assert_int_equal(
        az_retry_after_ms(NULL, NULL, "Mon, 23 Nov 2026 10:00:30 GMT", 1795428000000LL), 30000);
    assert_int_equal(az_retry_after_ms(NULL, NULL, "soon", 0), -1);
    assert_int_equal(az_retry_after_ms(NULL, NULL, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_put_async_operation),
        cmocka_unit_test(test_lro_failed),
        cmocka_unit_test(test_delete_location),
        cmocka_unit_test(test_accept_completes_without_polling),
        cmocka_unit_test(test_accept_follows_hidden_put),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_throttle_pauses_bucket),
        cmocka_unit_test(test_unauthorized_refetches_token),
        cmocka_unit_test(test_foreign_next_link_refused),
        cmocka_unit_test(test_imds_token),
        cmocka_unit_test(test_retry_after_parsing),
    };
    return az_run_tests("az", tests);
}
