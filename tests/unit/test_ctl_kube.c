/*
 * test_ctl_kube.c - the Kubernetes source's decisions on JSON objects
 * (controller/ctl_kube.h): finalizer presence and patches, which pool changes
 * need a reconcile, Secret references and values, the pool status written
 * (Reconciling derived for kstatus). The source as a whole runs
 * in tests/e2e/suite-kube.sh against kubesim and armsim.
 */
#include "test_main.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_kube.h"
#include "rc_err.h"

static json_t *j(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (!v)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return v;
}

static void assert_json(const json_t *v, const char *expect)
{
    char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *e = j(expect);
    char *want = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);

    if (!got || strcmp(got, want) != 0)
        fail_msg("got %s\nwant %s", got ? got : "(null)", want);
    free(got);
    free(want);
    json_decref(e);
}

/* The finalizer is found among others, with its index. */
static void test_has_finalizer(void **state)
{
    json_t *a = j("{\"metadata\":{\"finalizers\":[\"x/y\",\"azpool.dev/cleanup\"]}}");
    json_t *b = j("{\"metadata\":{\"finalizers\":[\"azpool.dev/cleanupx\"]}}");
    json_t *c = j("{\"metadata\":{}}");
    size_t i = 99;

    (void)state;
    assert_true(ckube_has_finalizer(a, &i));
    assert_int_equal(i, 1);
    assert_false(ckube_has_finalizer(b, NULL));
    assert_false(ckube_has_finalizer(c, NULL));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* Adding keeps other finalizers and carries the resourceVersion as the
 * precondition; removing tests the exact index before removing it. */
static void test_finalizer_patches(void **state)
{
    json_t *a = j("{\"metadata\":{\"resourceVersion\":\"41\",\"finalizers\":[\"x/y\"]}}");
    json_t *b = j("{\"metadata\":{\"resourceVersion\":\"7\"}}");
    json_t *c = j("{\"metadata\":{\"finalizers\":[\"x/y\",\"z\",\"azpool.dev/cleanup\"]}}");
    json_t *p;

    (void)state;
    p = ckube_finalizer_add_patch(a);
    assert_json(p, "{\"metadata\":{\"resourceVersion\":\"41\",\"finalizers\":[\"x/y\","
                   "\"azpool.dev/cleanup\"]}}");
    json_decref(p);
    p = ckube_finalizer_add_patch(b);
    assert_json(p, "{\"metadata\":{\"resourceVersion\":\"7\",\"finalizers\":"
                   "[\"azpool.dev/cleanup\"]}}");
    json_decref(p);
    p = ckube_finalizer_remove_patch(c);
    assert_json(p, "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/2\",\"value\":"
                   "\"azpool.dev/cleanup\"},{\"op\":\"remove\",\"path\":"
                   "\"/metadata/finalizers/2\"}]");
    json_decref(p);
    assert_null(ckube_finalizer_remove_patch(a));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* Status-only and resourceVersion-only changes (our own status writes) need
 * no reconcile; generation, deletion, finalizers, labels, annotations, uid,
 * add and delete do. */
static void test_pool_changed(void **state)
{
    static const char base[] =
        "{\"metadata\":{\"uid\":\"u1\",\"generation\":2,\"resourceVersion\":\"10\","
        "\"labels\":{\"a\":\"1\"},\"annotations\":{\"n\":\"1\"},\"finalizers\":[\"f\"]},"
        "\"spec\":{\"replicas\":1},\"status\":{\"replicas\":0}}";
    static const char *const same[] = {
        "{\"metadata\":{\"uid\":\"u1\",\"generation\":2,\"resourceVersion\":\"11\","
        "\"labels\":{\"a\":\"1\"},\"annotations\":{\"n\":\"1\"},\"finalizers\":[\"f\"]},"
        "\"spec\":{\"replicas\":1},\"status\":{\"replicas\":1,\"conditions\":[]}}",
    };
    static const char *const changed[] = {
        /* generation */
        "{\"metadata\":{\"uid\":\"u1\",\"generation\":3,\"resourceVersion\":\"11\","
        "\"labels\":{\"a\":\"1\"},\"annotations\":{\"n\":\"1\"},\"finalizers\":[\"f\"]}}",
        /* deletion */
        "{\"metadata\":{\"uid\":\"u1\",\"generation\":2,\"deletionTimestamp\":\"2026-11-23T10:00:"
        "00Z\",\"labels\":{\"a\":\"1\"},\"annotations\":{\"n\":\"1\"},\"finalizers\":[\"f\"]}}",
        /* finalizers */
        "{\"metadata\":{\"uid\":\"u1\",\"generation\":2,\"labels\":{\"a\":\"1\"},\"annotations\":"
        "{\"n\":\"1\"},\"finalizers\":[\"f\",\"azpool.dev/cleanup\"]}}",
        /* labels */
        "{\"metadata\":{\"uid\":\"u1\",\"generation\":2,\"labels\":{\"a\":\"2\"},\"annotations\":"
        "{\"n\":\"1\"},\"finalizers\":[\"f\"]}}",
        /* annotations (azpool.dev/adopt) */
        "{\"metadata\":{\"uid\":\"u1\",\"generation\":2,\"labels\":{\"a\":\"1\"},\"annotations\":"
        "{\"n\":\"1\",\"azpool.dev/adopt\":\"true\"},\"finalizers\":[\"f\"]}}",
        /* another object of the same name */
        "{\"metadata\":{\"uid\":\"u2\",\"generation\":2,\"labels\":{\"a\":\"1\"},\"annotations\":"
        "{\"n\":\"1\"},\"finalizers\":[\"f\"]}}",
    };
    json_t *b = j(base);

    (void)state;
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        json_t *n = j(same[i]);

        assert_false(ckube_pool_changed(b, n));
        json_decref(n);
    }
    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
        json_t *n = j(changed[i]);

        if (!ckube_pool_changed(b, n))
            fail_msg("change %zu not seen", i);
        json_decref(n);
    }
    assert_true(ckube_pool_changed(NULL, b));
    assert_true(ckube_pool_changed(b, NULL));
    json_decref(b);
}

/* Every *SecretRef with a name, anywhere in the spec, once each; refs
 * outside the spec and without a name do not count. */
static void test_secret_refs(void **state)
{
    json_t *p = j("{\"metadata\":{\"annotations\":{\"xSecretRef\":\"no\"}},\"spec\":{"
                  "\"osProfile\":{\"customDataSecretRef\":{\"name\":\"cloud-init\",\"key\":"
                  "\"user-data\"}},"
                  "\"extensions\":[{\"name\":\"e1\",\"protectedSettingsSecretRef\":{\"name\":"
                  "\"ado\",\"key\":\"pat\"}},{\"name\":\"e2\",\"protectedSettingsSecretRef\":{"
                  "\"name\":\"cloud-init\",\"key\":\"other\"}}],"
                  "\"autoscale\":{\"metric\":{\"azureQueue\":{\"credentialsSecretRef\":{"
                  "\"name\":\"q\",\"key\":\"conn\"}}}},"
                  "\"busy\":{\"http\":{\"headersSecretRef\":{\"key\":\"h\"}}}},"
                  "\"status\":{\"fooSecretRef\":{\"name\":\"not-spec\"}}}");
    json_t *names = json_array();

    (void)state;
    ckube_secret_refs(p, names);
    assert_json(names, "[\"cloud-init\",\"ado\",\"q\"]");
    assert_true(ckube_pool_refers(p, "Secret", "ado"));
    assert_false(ckube_pool_refers(p, "Secret", "not-spec"));
    json_decref(names);
    json_decref(p);
}

/* ImageVersion and ExpiryPolicy references by name. */
static void test_pool_refers(void **state)
{
    json_t *p = j("{\"spec\":{\"imageRef\":{\"name\":\"golden\"},\"expiryPolicyRef\":{\"name\":"
                  "\"weekly\"}}}");

    (void)state;
    assert_true(ckube_pool_refers(p, "ImageVersion", "golden"));
    assert_false(ckube_pool_refers(p, "ImageVersion", "weekly"));
    assert_true(ckube_pool_refers(p, "ExpiryPolicy", "weekly"));
    assert_false(ckube_pool_refers(p, "ExpiryPolicy", "golden"));
    json_decref(p);
}

/* data[key] is base64; absent keys, invalid base64 and values with a NUL are
 * refused with the right code. */
static void test_secret_value(void **state)
{
    json_t *s = j("{\"data\":{\"user-data\":\"I2Nsb3VkLWNvbmZpZwo=\",\"bad\":\"!!\","
                  "\"nul\":\"YQBi\"}}");
    char *v = NULL;

    (void)state;
    assert_int_equal(ckube_secret_value(s, "user-data", &v), 0);
    assert_string_equal(v, "#cloud-config\n");
    free(v);
    assert_int_equal(ckube_secret_value(s, "missing", &v), -RC_ENOTFOUND);
    assert_null(v);
    assert_int_equal(ckube_secret_value(s, "bad", &v), -RC_EINVAL);
    assert_int_equal(ckube_secret_value(s, "nul", &v), -RC_EINVAL);
    assert_null(v);
    json_decref(s);
}

/* The condition of type t in a status object, or NULL. */
static const json_t *cond(const json_t *st, const char *t)
{
    const json_t *c;
    size_t i;

    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), t) == 0)
            return c;
    }
    return NULL;
}

static const char *cstr(const json_t *st, const char *t, const char *field)
{
    return json_string_value(json_object_get(cond(st, t), field));
}

/* The reconciler's four conditions get Reconciling (= Progressing, False while
 * Stalled), observedGeneration everywhere and lastTransitionTime carried over
 * while a status is unchanged; an invalid current spec makes Ready False and
 * Stalled True (InvalidSpec), and Reconciling False with it. */
static void test_pool_status_reconciling(void **state)
{
    json_t *rolling = j("{\"replicas\":3,\"conditions\":["
                        "{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"RollingOut\","
                        "\"message\":\"1/3 on 1.5.0\"},"
                        "{\"type\":\"Progressing\",\"status\":\"True\",\"reason\":\"RollingOut\","
                        "\"message\":\"1/3 on 1.5.0\"},"
                        "{\"type\":\"Degraded\",\"status\":\"False\",\"reason\":\"RollingOut\"},"
                        "{\"type\":\"Stalled\",\"status\":\"False\",\"reason\":\"RollingOut\"},"
                        "{\"type\":\"Reconciling\",\"status\":\"False\",\"reason\":\"Bogus\"}]}");
    json_t *stalled =
        j("{\"conditions\":["
          "{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"ImageNotFound\"},"
          "{\"type\":\"Progressing\",\"status\":\"True\",\"reason\":\"ImageNotFound\"},"
          "{\"type\":\"Degraded\",\"status\":\"False\",\"reason\":\"ImageNotFound\"},"
          "{\"type\":\"Stalled\",\"status\":\"True\",\"reason\":\"ImageNotFound\","
          "\"message\":\"no version\"}]}");
    json_t *ready = j("{\"conditions\":["
                      "{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Ready\"},"
                      "{\"type\":\"Progressing\",\"status\":\"False\",\"reason\":\"Ready\"},"
                      "{\"type\":\"Degraded\",\"status\":\"False\",\"reason\":\"Ready\"},"
                      "{\"type\":\"Stalled\",\"status\":\"False\",\"reason\":\"Ready\"}]}");
    json_t *a, *b, *c, *d;
    const json_t *x;
    size_t i, n = 0;

    (void)state;
    a = ckube_pool_status(rolling, NULL, 4, NULL, 1700000000000);
    assert_non_null(a);
    assert_int_equal(json_integer_value(json_object_get(a, "observedGeneration")), 4);
    assert_int_equal(json_integer_value(json_object_get(a, "replicas")), 3);
    json_array_foreach(json_object_get(a, "conditions"), i, x)
    {
        assert_int_equal(json_integer_value(json_object_get(x, "observedGeneration")), 4);
        assert_non_null(json_object_get(x, "lastTransitionTime"));
        n += strcmp(json_string_value(json_object_get(x, "type")), "Reconciling") == 0;
    }
    assert_int_equal(json_array_size(json_object_get(a, "conditions")), 5);
    assert_int_equal(n, 1); /* the reconciler's own Reconciling is replaced, not kept */
    assert_string_equal(cstr(a, "Reconciling", "status"), "True");
    assert_string_equal(cstr(a, "Reconciling", "reason"), "RollingOut");
    assert_string_equal(cstr(a, "Reconciling", "message"), "1/3 on 1.5.0");
    assert_string_equal(cstr(a, "Ready", "status"), "False");

    /* Ready later: Reconciling False; Stalled's transition time is carried over
     * (unchanged status), Ready's and Reconciling's are new. */
    b = ckube_pool_status(ready, a, 5, NULL, 1700000600000);
    assert_string_equal(cstr(b, "Reconciling", "status"), "False");
    assert_string_equal(cstr(b, "Ready", "status"), "True");
    assert_string_equal(cstr(b, "Stalled", "lastTransitionTime"),
                        cstr(a, "Stalled", "lastTransitionTime"));
    assert_string_not_equal(cstr(b, "Ready", "lastTransitionTime"),
                            cstr(a, "Ready", "lastTransitionTime"));
    assert_string_not_equal(cstr(b, "Reconciling", "lastTransitionTime"),
                            cstr(a, "Reconciling", "lastTransitionTime"));
    assert_int_equal(json_integer_value(json_object_get(cond(b, "Ready"), "observedGeneration")),
                     5);

    /* Stalled True: Reconciling False with Stalled's reason, though Progressing is True */
    c = ckube_pool_status(stalled, NULL, 2, NULL, 1700000000000);
    assert_string_equal(cstr(c, "Progressing", "status"), "True");
    assert_string_equal(cstr(c, "Stalled", "status"), "True");
    assert_string_equal(cstr(c, "Reconciling", "status"), "False");
    assert_string_equal(cstr(c, "Reconciling", "reason"), "ImageNotFound");
    assert_string_equal(cstr(c, "Reconciling", "message"), "no version");

    /* an invalid current spec over a rolling status: Ready False, Stalled True
     * InvalidSpec, Reconciling False InvalidSpec */
    d = ckube_pool_status(rolling, NULL, 6, "spec.x: bad", 1700000000000);
    assert_string_equal(cstr(d, "Ready", "reason"), "InvalidSpec");
    assert_string_equal(cstr(d, "Stalled", "status"), "True");
    assert_string_equal(cstr(d, "Reconciling", "status"), "False");
    assert_string_equal(cstr(d, "Reconciling", "reason"), "InvalidSpec");
    assert_string_equal(cstr(d, "Reconciling", "message"), "spec.x: bad");
    assert_int_equal(json_integer_value(json_object_get(d, "observedGeneration")), 6);

    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
    json_decref(rolling);
    json_decref(stalled);
    json_decref(ready);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_has_finalizer),
        cmocka_unit_test(test_finalizer_patches),
        cmocka_unit_test(test_pool_changed),
        cmocka_unit_test(test_secret_refs),
        cmocka_unit_test(test_pool_refers),
        cmocka_unit_test(test_secret_value),
        cmocka_unit_test(test_pool_status_reconciling),
    };

    return az_run_tests("ctl_kube", tests);
}
