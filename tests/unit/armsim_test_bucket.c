/*
 * armsim_test_bucket.c - token buckets and the throttling armsim applies on top of them:
 * ARM per-principal read/write buckets (sizes of azure-arm.md §3.1, configurable), the
 * x-ms-ratelimit-remaining-* headers, 429 bodies with Retry-After, Compute per-resource buckets,
 * and refill driven by simulated time.
 */
#include "test_main.h"

#include "armsim_test_util.h"

/* A full bucket gives exactly `size` tokens, then tells how long until the next one. */
static void test_bucket_drains_then_reports_wait(void **state)
{
    (void)state;
    struct as_bucket b;
    as_bucket_init(&b, 250, 25, 1000);
    for (int i = 0; i < 250; i++)
        assert_true(as_bucket_take(&b, 1, 1000, NULL));
    int64_t wait = 0;
    assert_false(as_bucket_take(&b, 1, 1000, &wait));
    assert_int_equal(wait, 40); /* 25 tokens/s: one token every 40 ms */
    assert_true(as_bucket_take(&b, 1, 1040, NULL));
    assert_false(as_bucket_take(&b, 1, 1040, NULL));
}

/* Refill never exceeds the bucket size, however long it was idle. */
static void test_bucket_refill_capped(void **state)
{
    (void)state;
    struct as_bucket b;
    as_bucket_init(&b, 12, 4.0 / 60.0, 0);
    for (int i = 0; i < 12; i++)
        assert_true(as_bucket_take(&b, 1, 0, NULL));
    assert_true(as_bucket_level(&b, 15000) > 0.99 && as_bucket_level(&b, 15000) < 1.01);
    assert_true(as_bucket_level(&b, 3600 * 1000) == 12);
    int64_t wait = 0;
    assert_true(as_bucket_take(&b, 12, 3600 * 1000, NULL));
    assert_false(as_bucket_take(&b, 2, 3600 * 1000, &wait));
    assert_int_equal(wait, 30000); /* 2 tokens at 4/min */
}

static void rg(struct armsim *sim, const char *tok)
{
    struct tx_resp t = tx_call(sim, "PUT", TX_RG "?api-version=2021-04-01",
                               "{\"location\":\"westus\"}", tok, NULL, NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
}

/* Reads drain the principal's bucket; the header counts down; then 429 with ARM's body. */
static void test_arm_read_bucket_429(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    const char *tok = tx_login(sim, "app-a");
    char tk[2048];
    snprintf(tk, sizeof(tk), "%s", tok);
    rg(sim, tk);
    struct tx_resp t = tx_call(sim, "POST", "/_armsim/throttle",
                               "{\"reads\":{\"size\":3,\"refill\":0.5}}", "", NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    const char *want[] = {"2", "1", "0"};
    for (int i = 0; i < 3; i++) {
        t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, tk, NULL, NULL);
        assert_int_equal(t.status, 200);
        assert_string_equal(tx_hdr(&t, "x-ms-ratelimit-remaining-subscription-reads"), want[i]);
        tx_done(&t);
    }
    t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 429);
    assert_string_equal(tx_errcode(&t), "SubscriptionRequestsThrottled");
    assert_string_equal(tx_hdr(&t, "Retry-After"), "2"); /* 0.5 token/s */
    const char *msg =
        json_string_value(json_object_get(json_object_get(t.body, "error"), "message"));
    assert_non_null(strstr(msg, "actor 'app-a'"));
    tx_done(&t);
    /* another principal has its own bucket */
    char tk2[2048];
    snprintf(tk2, sizeof(tk2), "%s", tx_login(sim, "app-b"));
    t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, tk2, NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    /* simulated time refills: 2 s at 0.5/s gives one token back */
    tx_clock_ms += 2000;
    t = tx_call(sim, "GET", TX_RG "?api-version=2021-04-01", NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    armsim_free(sim);
}

/* With --time-scale 10 one real second refills ten simulated seconds of tokens. */
static void test_refill_follows_time_scale(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(10, 1000);
    char tk[2048];
    snprintf(tk, sizeof(tk), "%s", tx_login(sim, "app-a"));
    rg(sim, tk);
    struct tx_resp t = tx_call(sim, "POST", "/_armsim/throttle",
                               "{\"writes\":{\"size\":2,\"refill\":0.2}}", "", NULL, NULL);
    tx_done(&t);
    for (int i = 0; i < 2; i++) {
        t = tx_call(sim, "PATCH", TX_RG "?api-version=2021-04-01", "{\"tags\":{}}", tk, NULL, NULL);
        assert_int_equal(t.status, 200);
        tx_done(&t);
    }
    t = tx_call(sim, "PATCH", TX_RG "?api-version=2021-04-01", "{\"tags\":{}}", tk, NULL, NULL);
    assert_int_equal(t.status, 429);
    /* 5 simulated seconds per token = 0.5 real seconds: Retry-After rounds up to 1 */
    assert_string_equal(tx_hdr(&t, "Retry-After"), "1");
    tx_done(&t);
    tx_clock_ms += 500;
    t = tx_call(sim, "PATCH", TX_RG "?api-version=2021-04-01", "{\"tags\":{}}", tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    armsim_free(sim);
}

/* Compute: a per-resource bucket (LowCostGetVMScaleSet) throttles GETs of one scale set with
 * OperationNotAllowed / TooManyRequests, while another scale set is unaffected. */
static void test_compute_resource_bucket(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    char tk[2048], body[1024];
    snprintf(tk, sizeof(tk), "%s", tx_login(sim, "app-a"));
    rg(sim, tk);
    struct tx_resp t =
        tx_call(sim, "POST", "/_armsim/throttle",
                "{\"compute\":{\"LowCostGetVMScaleSet\":{\"resource\":[12,2]}}}", "", NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    snprintf(body, sizeof(body), TX_VMSS_BODY, 1, "1.0.0");
    const char *names[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        char p[512];
        snprintf(p, sizeof(p), TX_C "/virtualMachineScaleSets/%s" TX_API, names[i]);
        t = tx_call(sim, "PUT", p, body, tk, NULL, NULL);
        assert_int_equal(t.status, 201);
        assert_non_null(strstr(tx_hdr(&t, "x-ms-ratelimit-remaining-resource"),
                               "Microsoft.Compute/PutVMScaleSetResource;11"));
        tx_done(&t);
    }
    for (int i = 0; i < 2; i++) {
        t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/a" TX_API, NULL, tk, NULL, NULL);
        assert_int_equal(t.status, 200);
        tx_done(&t);
    }
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/a" TX_API, NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 429);
    assert_string_equal(tx_errcode(&t), "OperationNotAllowed");
    json_t *d = json_array_get(json_object_get(json_object_get(t.body, "error"), "details"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "code")), "TooManyRequests");
    assert_string_equal(json_string_value(json_object_get(d, "target")),
                        "LowCostGetVMScaleSetResource");
    assert_string_equal(tx_hdr(&t, "Retry-After"), "5"); /* 12 per minute */
    assert_non_null(
        strstr(tx_hdr(&t, "x-ms-ratelimit-remaining-resource"), "LowCostGetVMScaleSetResource;0"));
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/b" TX_API, NULL, tk, NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    armsim_free(sim);
}

/* A bad configuration is refused and leaves the old one in place. */
static void test_throttle_config_validation(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    struct tx_resp t =
        tx_call(sim, "POST", "/_armsim/throttle",
                "{\"compute\":{\"NoSuchPolicy\":{\"resource\":[1,1]}}}", "", NULL, NULL);
    assert_int_equal(t.status, 400);
    tx_done(&t);
    t = tx_call(sim, "POST", "/_armsim/throttle", "{\"reads\":{\"size\":-1}}", "", NULL, NULL);
    assert_int_equal(t.status, 400);
    tx_done(&t);
    t = tx_call(sim, "GET", "/_armsim/throttle", NULL, "", NULL, NULL);
    assert_int_equal(t.status, 200);
    assert_true(json_number_value(json_object_get(json_object_get(t.body, "reads"), "size")) ==
                250);
    tx_done(&t);
    armsim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_drains_then_reports_wait),
        cmocka_unit_test(test_bucket_refill_capped),
        cmocka_unit_test(test_arm_read_bucket_429),
        cmocka_unit_test(test_refill_follows_time_scale),
        cmocka_unit_test(test_compute_resource_bucket),
        cmocka_unit_test(test_throttle_config_validation),
    };
    return az_run_tests("armsim_bucket", tests);
}
