/*
 * armsim_test_auth.c - Entra ID and IMDS token endpoints and the token check on ARM calls:
 * v2 token shape (numeric expires_in), AADSTS error bodies, the deny list, expiry
 * (ExpiredAuthenticationToken) and forged tokens (InvalidAuthenticationToken), IMDS string
 * fields and its Metadata header rule, and the OpenID configuration pointing at the client's host.
 */
#include "test_main.h"

#include "armsim_test_util.h"

#define FORM                                                                                       \
    "grant_type=client_credentials&client_id=%s&%s&scope="                                         \
    "https%%3A%%2F%%2Fmanagement.azure.com%%2F.default"

static struct tx_resp token_req(struct armsim *sim, const char *client, const char *cred)
{
    char form[512];
    snprintf(form, sizeof(form), FORM, client, cred);
    return tx_call(sim, "POST", "/t1/oauth2/v2.0/token", form, "", NULL, NULL);
}

static void test_token_shape_and_use(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    struct tx_resp t = token_req(sim, "app-1", "client_secret=s3cret");
    assert_int_equal(t.status, 200);
    assert_true(json_is_integer(json_object_get(t.body, "expires_in")));
    assert_int_equal(json_integer_value(json_object_get(t.body, "expires_in")), 3599);
    assert_null(json_object_get(t.body, "expires_on"));
    assert_string_equal(json_string_value(json_object_get(t.body, "token_type")), "Bearer");
    char tok[2048];
    snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(t.body, "access_token")));
    tx_done(&t);
    /* client assertion works too */
    t = token_req(sim, "app-2",
                  "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%"
                  "3Ajwt-bearer&client_assertion=eyJh.eyJi.sig");
    assert_int_equal(t.status, 200);
    tx_done(&t);
    /* the token authenticates ARM calls; the principal is recorded in the log */
    t = tx_call(sim, "PUT", TX_RG "?api-version=2021-04-01", "{\"location\":\"westus\"}", tok, NULL,
                NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    t = tx_call(sim, "GET", "/_armsim/log", NULL, "", NULL, NULL);
    json_t *e = json_array_get(json_object_get(t.body, "entries"), 2);
    assert_string_equal(json_string_value(json_object_get(e, "principal")), "app-1");
    assert_string_equal(json_string_value(json_object_get(e, "method")), "PUT");
    tx_done(&t);
    /* a tampered token is refused */
    tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
    t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, tok, NULL, NULL);
    assert_int_equal(t.status, 401);
    assert_string_equal(tx_errcode(&t), "InvalidAuthenticationToken");
    tx_done(&t);
    t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, "", NULL, NULL);
    assert_int_equal(t.status, 401);
    assert_string_equal(tx_errcode(&t), "AuthenticationFailed");
    tx_done(&t);
    armsim_free(sim);
}

static void assert_aadsts(struct tx_resp *t, int status, const char *err, long code)
{
    assert_int_equal(t->status, status);
    assert_string_equal(json_string_value(json_object_get(t->body, "error")), err);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(t->body, "error_codes"), 0)),
                     code);
    char want[32];
    snprintf(want, sizeof(want), "AADSTS%ld:", code);
    const char *d = json_string_value(json_object_get(t->body, "error_description"));
    assert_non_null(d);
    assert_true(strncmp(d, want, strlen(want)) == 0);
}

static void test_token_errors(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    struct tx_resp t = tx_call(sim, "POST", "/t1/oauth2/v2.0/token",
                               "grant_type=password&client_id=a&scope=x/.default", "", NULL, NULL);
    assert_aadsts(&t, 400, "unsupported_grant_type", 70003);
    tx_done(&t);
    t = tx_call(sim, "POST", "/t1/oauth2/v2.0/token",
                "grant_type=client_credentials&client_id=a&client_secret=s&scope=https%3A%2F%"
                "2Fmanagement.azure.com%2Fuser_impersonation",
                "", NULL, NULL);
    assert_aadsts(&t, 400, "invalid_scope", 70011);
    tx_done(&t);
    t = token_req(sim, "a", "x=y");
    assert_aadsts(&t, 401, "invalid_client", 7000216);
    tx_done(&t);
    t = tx_call(sim, "POST", "/_armsim/auth", "{\"deny\":[\"bad-app\"]}", "", NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    t = token_req(sim, "bad-app", "client_secret=s");
    assert_aadsts(&t, 401, "invalid_client", 7000215);
    tx_done(&t);
    t = tx_call(sim, "POST", "/_armsim/auth", "{\"allow\":[\"bad-app\"]}", "", NULL, NULL);
    tx_done(&t);
    t = token_req(sim, "bad-app", "client_secret=s");
    assert_int_equal(t.status, 200);
    tx_done(&t);
    armsim_free(sim);
}

/* Tokens expire by the (real) clock: an ARM call after expiry is ExpiredAuthenticationToken. */
static void test_token_expiry(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    struct tx_resp t =
        tx_call(sim, "POST", "/_armsim/auth", "{\"lifetimeSeconds\":60}", "", NULL, NULL);
    tx_done(&t);
    char tok[2048];
    snprintf(tok, sizeof(tok), "%s", tx_login(sim, "app-exp"));
    t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, tok, NULL, NULL);
    assert_int_equal(t.status, 404); /* authenticated; the group does not exist */
    assert_string_equal(tx_errcode(&t), "ResourceGroupNotFound");
    tx_done(&t);
    tx_clock_ms += 61 * 1000;
    t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, tok, NULL, NULL);
    assert_int_equal(t.status, 401);
    assert_string_equal(tx_errcode(&t), "ExpiredAuthenticationToken");
    tx_done(&t);
    t = tx_call(sim, "POST", "/_armsim/auth", "{\"lifetimeSeconds\":3599}", "", NULL, NULL);
    tx_done(&t);
    armsim_free(sim);
}

static struct tx_resp imds(struct armsim *sim, const char *target, const char *md)
{
    struct as_req r;
    struct as_resp w;
    struct tx_resp t;
    static char buf[4096];
    memset(&r, 0, sizeof(r));
    memset(&w, 0, sizeof(w));
    memset(&t, 0, sizeof(t));
    assert_int_equal(as_req_parse_target(&r, target, buf, sizeof(buf)), 0);
    r.method = "GET";
    r.scheme = "http"; /* the IMDS vhost */
    r.host = "127.0.0.1:8080";
    if (md) {
        r.hdr[0].name = "metadata";
        r.hdr[0].value = md;
        r.nhdr = 1;
    }
    armsim_dispatch(sim, &r, &w);
    t.status = w.status;
    t.body = json_incref(w.json);
    as_resp_release(&w);
    return t;
}

static void test_imds(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    const char *url = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                      "https%3A%2F%2Fmanagement.azure.com%2F&client_id=mi-1";
    struct tx_resp t = imds(sim, url, NULL);
    assert_int_equal(t.status, 400);
    assert_string_equal(json_string_value(json_object_get(t.body, "error")), "invalid_request");
    tx_done(&t);
    t = imds(sim, url, "true");
    assert_int_equal(t.status, 200);
    assert_true(json_is_string(json_object_get(t.body, "expires_in")));
    assert_true(json_is_string(json_object_get(t.body, "expires_on")));
    assert_string_equal(json_string_value(json_object_get(t.body, "expires_in")), "3599");
    assert_string_equal(json_string_value(json_object_get(t.body, "resource")),
                        "https://management.azure.com/");
    char tok[2048];
    snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(t.body, "access_token")));
    tx_done(&t);
    /* the IMDS path does not exist on the ARM vhost, and the MI token works for ARM */
    t = tx_call(sim, "GET", url, NULL, "", "metadata", "true");
    assert_int_equal(t.status, 404);
    tx_done(&t);
    t = tx_call(sim, "PUT", TX_RG "?api-version=2021-04-01", "{\"location\":\"westus\"}", tok, NULL,
                NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    t = imds(sim, "/metadata/identity/oauth2/token?api-version=2018-02-01", "true");
    assert_int_equal(t.status, 400);
    assert_string_equal(json_string_value(json_object_get(t.body, "error")), "invalid_resource");
    tx_done(&t);
    armsim_free(sim);
}

static void test_openid_configuration(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    struct tx_resp t = tx_call(sim, "GET", "/tenant-x/v2.0/.well-known/openid-configuration", NULL,
                               "", NULL, NULL);
    assert_int_equal(t.status, 200);
    assert_string_equal(json_string_value(json_object_get(t.body, "token_endpoint")),
                        "https://test.local:8443/tenant-x/oauth2/v2.0/token");
    tx_done(&t);
    t = tx_call(sim, "GET", "/common/discovery/instance", NULL, "", NULL, NULL);
    assert_int_equal(t.status, 200);
    assert_non_null(strstr(json_string_value(json_object_get(t.body, "tenant_discovery_endpoint")),
                           "test.local"));
    tx_done(&t);
    armsim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_shape_and_use),  cmocka_unit_test(test_token_errors),
        cmocka_unit_test(test_token_expiry),         cmocka_unit_test(test_imds),
        cmocka_unit_test(test_openid_configuration),
    };
    return az_run_tests("armsim_auth", tests);
}
