/* test_kstatus.c - planner status -> Kubernetes .status with kstatus conditions
 * (controller/kstatus.h). */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstatus.h"
#include "rc_observed.h"
#include "rc_plan.h"

#define T0 1795514400000LL /* 2026-11-24T10:00:00Z */

static struct rc_pool_status ready_status(void)
{
    struct rc_pool_status st;

    memset(&st, 0, sizeof(st));
    st.pool = "ops/hw";
    st.replicas = st.ready_replicas = st.updated_replicas = st.desired_replicas = 3;
    st.current_image = st.target_image = "/subscriptions/s/galleries/g/images/d/versions/1.5.0";
    st.ready = RC_COND_TRUE;
    st.progressing = st.degraded = st.stalled = RC_COND_FALSE;
    st.reason = "Ready";
    st.message = "3/3 ready on 1.5.0";
    st.summary = "";
    return st;
}

static const json_t *cond(const json_t *status, const char *type)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(status, "conditions"), i,
                       c) if (strcmp(json_string_value(json_object_get(c, "type")), type) ==
                              0) return c;
    return NULL;
}

static const char *cstr(const json_t *status, const char *type, const char *field)
{
    const json_t *c = cond(status, type);

    assert_non_null(c);
    return json_string_value(json_object_get(c, field));
}

/* A converged pool: Ready True, the three others False with neutral reasons; the
 * generation is on the status and on every condition; times are whole seconds. */
static void test_converged_pool(void **state)
{
    struct rc_pool_status st = ready_status();
    json_t *s = kstatus_pool(&st, "hw", 4, NULL, T0 + 750);
    size_t i;
    const json_t *c;

    (void)state;
    assert_non_null(s);
    assert_int_equal(json_integer_value(json_object_get(s, "observedGeneration")), 4);
    assert_int_equal(json_array_size(json_object_get(s, "conditions")), KSTATUS_CONDS);
    assert_string_equal(cstr(s, "Reconciling", "status"), "False");
    assert_string_equal(cstr(s, "Ready", "status"), "True");
    assert_string_equal(cstr(s, "Ready", "reason"), "Ready");
    assert_string_equal(cstr(s, "Ready", "message"), "3/3 ready on 1.5.0");
    assert_string_equal(cstr(s, "Progressing", "status"), "False");
    assert_string_equal(cstr(s, "Progressing", "reason"), "UpToDate");
    assert_string_equal(cstr(s, "Degraded", "status"), "False");
    assert_string_equal(cstr(s, "Degraded", "reason"), "AsExpected");
    assert_string_equal(cstr(s, "Stalled", "status"), "False");
    assert_string_equal(cstr(s, "Stalled", "reason"), "AsExpected");
    json_array_foreach(json_object_get(s, "conditions"), i, c)
    {
        assert_int_equal(json_integer_value(json_object_get(c, "observedGeneration")), 4);
        assert_string_equal(json_string_value(json_object_get(c, "lastTransitionTime")),
                            "2026-11-24T10:00:00Z");
    }
    assert_string_equal(json_string_value(json_object_get(s, "selector")), "azpool.dev/pool=hw");
    assert_int_equal(json_integer_value(json_object_get(s, "replicas")), 3);
    assert_int_equal(json_integer_value(json_object_get(s, "readyReplicas")), 3);
    assert_int_equal(json_integer_value(json_object_get(s, "updatedReplicas")), 3);
    assert_int_equal(json_integer_value(json_object_get(s, "expiringReplicas")), 0);
    assert_int_equal(json_integer_value(json_object_get(s, "desiredReplicas")), 3);
    assert_string_equal(json_string_value(json_object_get(s, "currentImage")), st.current_image);
    assert_null(json_object_get(s, "lastScaleTime"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "plan"), "pending")), 0);
    json_decref(s);
}

/* lastTransitionTime moves only for the condition whose status flipped; a new reason or
 * message alone keeps it. */
static void test_transition_time_only_on_status_change(void **state)
{
    struct rc_pool_status st = ready_status();
    json_t *s1, *s2, *s3;

    (void)state;
    st.ready = RC_COND_FALSE;
    st.progressing = RC_COND_TRUE;
    st.reason = "ScalingOut";
    st.message = "1/3 ready; scale out 2";
    st.pending = 1;
    s1 = kstatus_pool(&st, "hw", 4, NULL, T0);
    assert_non_null(s1);
    assert_string_equal(cstr(s1, "Progressing", "status"), "True");
    assert_string_equal(cstr(s1, "Progressing", "reason"), "ScalingOut");
    assert_string_equal(cstr(s1, "Progressing", "message"), "1/3 ready; scale out 2");
    assert_string_equal(cstr(s1, "Ready", "reason"), "ScalingOut");
    assert_string_equal(cstr(s1, "Reconciling", "status"), "True"); /* kstatus: InProgress */
    assert_string_equal(cstr(s1, "Reconciling", "reason"), "ScalingOut");

    /* a minute later, still scaling with another message: no transition */
    st.message = "2/3 ready; 1 provisioning";
    st.reason = "Provisioning";
    s2 = kstatus_pool(&st, "hw", 4, s1, T0 + 60000);
    assert_string_equal(cstr(s2, "Ready", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    assert_string_equal(cstr(s2, "Progressing", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    assert_string_equal(cstr(s2, "Ready", "message"), "2/3 ready; 1 provisioning");
    assert_string_equal(cstr(s2, "Ready", "reason"), "Provisioning");

    /* two minutes later converged: Ready and Progressing flip, the others keep T0 */
    st = ready_status();
    s3 = kstatus_pool(&st, "hw", 4, s2, T0 + 120000);
    assert_string_equal(cstr(s3, "Ready", "status"), "True");
    assert_string_equal(cstr(s3, "Ready", "lastTransitionTime"), "2026-11-24T10:02:00Z");
    assert_string_equal(cstr(s3, "Progressing", "lastTransitionTime"), "2026-11-24T10:02:00Z");
    assert_string_equal(cstr(s3, "Degraded", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    assert_string_equal(cstr(s3, "Stalled", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
}

/* A previous condition without lastTransitionTime (or of another type) gets now. */
static void test_prev_without_time_gets_now(void **state)
{
    struct rc_pool_status st = ready_status();
    json_t *prev =
        json_pack("{s:[{s:s,s:s},{s:s,s:s,s:s}]}", "conditions", "type", "Ready", "status", "True",
                  "type", "Foo", "status", "False", "lastTransitionTime", "2020-01-01T00:00:00Z");
    json_t *s = kstatus_pool(&st, "hw", 1, prev, T0);

    (void)state;
    assert_string_equal(cstr(s, "Ready", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    assert_string_equal(cstr(s, "Degraded", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    assert_null(cond(s, "Foo")); /* conditions not ours are not kept */
    json_decref(prev);
    json_decref(s);
}

/* Re-computing an unchanged situation later gives a status kstatus_changed() calls equal:
 * the controller writes /status once, not every reconcile. */
static void test_recompute_is_unchanged(void **state)
{
    struct rc_pool_status st = ready_status();
    json_t *s1 = kstatus_pool(&st, "hw", 7, NULL, T0);
    json_t *s2 = kstatus_pool(&st, "hw", 7, s1, T0 + 3600000);
    json_t *s3, *p;

    (void)state;
    assert_false(kstatus_changed(s1, s2));
    p = kstatus_merge_patch(s1, s2);
    assert_int_equal(json_object_size(json_object_get(p, "status")), 0);
    json_decref(p);
    /* a new generation is a change (kubectl wait ignores conditions of older generations) */
    s3 = kstatus_pool(&st, "hw", 8, s2, T0 + 3600000);
    assert_true(kstatus_changed(s2, s3));
    assert_int_equal(json_integer_value(json_object_get(cond(s3, "Ready"), "observedGeneration")),
                     8);
    assert_string_equal(cstr(s3, "Ready", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
}

/* A halted rollout is Degraded with reason RolloutHalted naming the image version. */
static void test_degraded_rollout_halted(void **state)
{
    struct rc_pool_status st = ready_status();
    json_t *s;

    (void)state;
    st.ready = RC_COND_FALSE;
    st.degraded = RC_COND_TRUE;
    st.halted_image = "/subscriptions/s/galleries/g/images/d/versions/1.6.0";
    st.reason = "RolloutHalted";
    st.message = "3/3 on 1.5.0; rollout of 1.6.0 halted (canary failed)";
    s = kstatus_pool(&st, "hw", 2, NULL, T0);
    assert_string_equal(cstr(s, "Degraded", "status"), "True");
    assert_string_equal(cstr(s, "Degraded", "reason"), "RolloutHalted");
    assert_string_equal(cstr(s, "Degraded", "message"), "rollout of 1.6.0 halted (canary failed)");
    assert_string_equal(cstr(s, "Progressing", "status"), "False");
    assert_string_equal(cstr(s, "Progressing", "reason"), "RolloutHalted");
    assert_string_equal(cstr(s, "Stalled", "status"), "False");
    assert_null(json_object_get(s, "haltedImage")); /* not in the CRD schema */
    json_decref(s);
}

/* Failed instances make Degraded True with reason InstancesFailed naming at most five. */
static void test_degraded_failed_instances(void **state)
{
    struct rc_pool_status st = ready_status();
    struct rc_inst_status in[7];
    char names[7][32];
    json_t *s;

    (void)state;
    memset(in, 0, sizeof(in));
    for (int i = 0; i < 7; i++) {
        snprintf(names[i], sizeof(names[i]), "hw-%d-a", i);
        in[i].name = names[i];
        in[i].state = i == 0 ? RC_INST_READY : RC_INST_FAILED;
        in[i].reason = i == 0 ? NULL : "Failed";
    }
    st.instances = in;
    st.n_instances = 2;
    st.degraded = RC_COND_TRUE;
    st.ready = RC_COND_FALSE;
    st.progressing = RC_COND_TRUE;
    st.reason = "RollingOut";
    s = kstatus_pool(&st, "hw", 2, NULL, T0);
    assert_string_equal(cstr(s, "Degraded", "reason"), "InstancesFailed");
    assert_string_equal(cstr(s, "Degraded", "message"), "1 instance failed: hw-1-a");
    json_decref(s);
    st.n_instances = 7;
    s = kstatus_pool(&st, "hw", 2, NULL, T0);
    assert_string_equal(cstr(s, "Degraded", "message"),
                        "6 instances failed: hw-1-a, hw-2-a, hw-3-a, hw-4-a, hw-5-a, ...");
    assert_int_equal(json_array_size(json_object_get(s, "instances")), 7);
    json_decref(s);
}

/* Stalled: no progress possible (an image that does not exist). */
static void test_stalled(void **state)
{
    struct rc_pool_status st;
    json_t *s;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.ready = RC_COND_FALSE;
    st.stalled = RC_COND_TRUE;
    st.desired_replicas = -1;
    st.reason = "ImageNotFound";
    st.message = "ImageVersion ops/golden not found";
    s = kstatus_pool(&st, "hw", 1, NULL, T0);
    assert_string_equal(cstr(s, "Stalled", "status"), "True");
    assert_string_equal(cstr(s, "Stalled", "reason"), "ImageNotFound");
    assert_string_equal(cstr(s, "Stalled", "message"), "ImageVersion ops/golden not found");
    assert_string_equal(cstr(s, "Ready", "status"), "False");
    assert_string_equal(cstr(s, "Progressing", "status"), "False");
    assert_string_equal(cstr(s, "Progressing", "reason"), "ImageNotFound");
    assert_string_equal(cstr(s, "Reconciling", "status"), "False");
    assert_null(json_object_get(s, "desiredReplicas")); /* unknown: omitted (schema minimum 0) */
    assert_null(json_object_get(s, "currentImage"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "plan"), "summary")),
                        "");
    json_decref(s);
}

/* kstatus reads Reconciling before Stalled: a pool that is stalled while the planner still
 * has something in flight must not show Reconciling True (it would hide the failure). */
static void test_stalled_is_not_reconciling(void **state)
{
    struct rc_pool_status st = ready_status();
    json_t *s;

    (void)state;
    st.ready = RC_COND_FALSE;
    st.progressing = RC_COND_TRUE;
    st.stalled = RC_COND_TRUE;
    st.reason = "ProvisioningDeadlineExceeded";
    st.message = "2/3 ready; hw-2-a provisioning for 31m (deadline 30m)";
    s = kstatus_pool(&st, "hw", 3, NULL, T0);
    assert_string_equal(cstr(s, "Progressing", "status"), "True");
    assert_string_equal(cstr(s, "Stalled", "status"), "True");
    assert_string_equal(cstr(s, "Reconciling", "status"), "False");
    assert_string_equal(cstr(s, "Reconciling", "reason"), "ProvisioningDeadlineExceeded");
    json_decref(s);
}

/* RC_COND_UNKNOWN is "Unknown"; a NULL reason becomes "Unknown". */
static void test_unknown(void **state)
{
    struct rc_pool_status st;
    json_t *s;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.ready = RC_COND_UNKNOWN;
    st.degraded = RC_COND_UNKNOWN;
    s = kstatus_pool(&st, "hw", 1, NULL, T0);
    assert_string_equal(cstr(s, "Ready", "status"), "Unknown");
    assert_string_equal(cstr(s, "Ready", "reason"), "Unknown");
    assert_string_equal(cstr(s, "Ready", "message"), "");
    assert_string_equal(cstr(s, "Degraded", "status"), "Unknown");
    json_decref(s);
}

/* Reasons are reduced to the CRD's pattern; messages are cut at 32768 bytes without
 * splitting a UTF-8 sequence, and invalid UTF-8 is replaced rather than failing. */
static void test_reason_and_message_limits(void **state)
{
    struct kstatus_cond c[3] = {{"A", RC_COND_TRUE, "9 Scaling-Out: x,", NULL},
                                {"B", RC_COND_FALSE, "__", "m"},
                                {"C", RC_COND_FALSE, NULL, NULL}};
    char *big = malloc(KSTATUS_MESSAGE_MAX + 8);
    json_t *arr;
    const char *m;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', KSTATUS_MESSAGE_MAX + 7);
    big[KSTATUS_MESSAGE_MAX + 7] = '\0';
    /* a 2-byte sequence straddling the limit */
    big[KSTATUS_MESSAGE_MAX - 1] = (char)0xC3;
    big[KSTATUS_MESSAGE_MAX] = (char)0xA9;
    c[1].message = big;
    arr = kstatus_conditions(c, 3, NULL, 0, T0);
    assert_non_null(arr);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "reason")),
                        "ScalingOut:x");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "reason")),
                        "Unknown");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 2), "reason")),
                        "Unknown");
    m = json_string_value(json_object_get(json_array_get(arr, 1), "message"));
    assert_non_null(m);
    assert_int_equal(strlen(m), KSTATUS_MESSAGE_MAX - 1);
    json_decref(arr);
    free(big);
    /* not UTF-8 (an Azure error text): kept, the bad bytes as '?' */
    c[0].message = "quota \xff\xfe exceeded \xc3\xa9";
    arr = kstatus_conditions(c, 1, NULL, 0, T0);
    assert_non_null(arr);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "message")),
                        "quota ?? exceeded \xc3\xa9");
    json_decref(arr);
}

/* Instances: times in RFC 3339, empty strings and zero times omitted; lastScaleTime. */
static void test_instances_and_times(void **state)
{
    struct rc_pool_status st = ready_status();
    struct rc_inst_status in[2];
    json_t *s, *i0, *i1;

    (void)state;
    memset(in, 0, sizeof(in));
    in[0].name = "hw-0-a";
    in[0].id = "/subscriptions/s/vm/hw-0-a";
    in[0].image = "img";
    in[0].created_ms = T0 - 3600000;
    in[0].expires_ms = T0 + 86400000;
    in[0].state = RC_INST_READY;
    in[0].busy = true;
    in[0].reason = "Expired";
    in[1].name = "hw-1-a";
    in[1].id = "";
    in[1].state = RC_INST_PROVISIONING;
    st.instances = in;
    st.n_instances = 2;
    st.last_scale_ms = T0 - 60000;
    s = kstatus_pool(&st, "hw", 1, NULL, T0);
    assert_string_equal(json_string_value(json_object_get(s, "lastScaleTime")),
                        "2026-11-24T09:59:00Z");
    i0 = json_array_get(json_object_get(s, "instances"), 0);
    i1 = json_array_get(json_object_get(s, "instances"), 1);
    assert_string_equal(json_string_value(json_object_get(i0, "createdAt")),
                        "2026-11-24T09:00:00Z");
    assert_string_equal(json_string_value(json_object_get(i0, "expiresAt")),
                        "2026-11-25T10:00:00Z");
    assert_string_equal(json_string_value(json_object_get(i0, "state")), "Ready");
    assert_true(json_is_true(json_object_get(i0, "busy")));
    assert_string_equal(json_string_value(json_object_get(i0, "reason")), "Expired");
    assert_int_equal(json_object_size(i1), 3); /* name, state, busy */
    assert_string_equal(json_string_value(json_object_get(i1, "state")), "Provisioning");
    json_decref(s);
}

/* kstatus_changed ignores the order of conditions, instances and keys, nothing else. */
static void test_changed_ignores_order_only(void **state)
{
    json_t *a = json_pack("{s:i,s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:i},{s:s,s:i}],s:{s:i,s:s}}",
                          "observedGeneration", 3, "conditions", "type", "Ready", "status", "True",
                          "type", "Stalled", "status", "False", "instances", "name", "a", "n", 1,
                          "name", "b", "n", 2, "plan", "pending", 0, "summary", "");
    json_t *b = json_pack("{s:{s:s,s:i},s:[{s:i,s:s},{s:i,s:s}],s:[{s:s,s:s},{s:s,s:s}],s:i}",
                          "plan", "summary", "", "pending", 0, "instances", "n", 2, "name", "b",
                          "n", 1, "name", "a", "conditions", "status", "False", "type", "Stalled",
                          "status", "True", "type", "Ready", "observedGeneration", 3);
    json_t *c;

    (void)state;
    assert_false(kstatus_changed(a, b));
    assert_true(kstatus_changed(NULL, b));
    assert_true(kstatus_changed(a, NULL));
    c = json_deep_copy(b);
    json_object_set_new(json_array_get(json_object_get(c, "conditions"), 1), "status",
                        json_string("False"));
    assert_true(kstatus_changed(a, c));
    json_decref(c);
    c = json_deep_copy(b);
    json_object_set_new(json_array_get(json_object_get(c, "instances"), 0), "name",
                        json_string("x"));
    assert_true(kstatus_changed(a, c));
    json_decref(c);
    c = json_deep_copy(b);
    json_object_set_new(c, "lastScaleTime", json_string("2026-11-24T10:00:00Z"));
    assert_true(kstatus_changed(a, c));
    assert_true(kstatus_changed(c, a));
    json_decref(c);
    c = json_deep_copy(b); /* other arrays keep their order */
    json_object_set_new(c, "usedBy", json_pack("[ss]", "x", "y"));
    json_object_set_new(a, "usedBy", json_pack("[ss]", "y", "x"));
    assert_true(kstatus_changed(a, c));
    json_decref(c);
    json_decref(a);
    json_decref(b);
}

/* The merge patch sets changed keys, recurses into objects and nulls removed keys; applied
 * to the old status it gives the new one. */
static void test_merge_patch(void **state)
{
    json_t *old = json_pack("{s:i,s:s,s:{s:i,s:s},s:[i]}", "replicas", 2, "lastScaleTime",
                            "2026-11-24T09:00:00Z", "plan", "pending", 1, "summary", "create 1",
                            "instances", 1);
    json_t *new = json_pack("{s:i,s:{s:i,s:s},s:[i,i],s:s}", "replicas", 2, "plan", "pending", 0,
                            "summary", "create 1", "instances", 1, 2, "targetImage", "x");
    json_t *p = kstatus_merge_patch(old, new), *d, *want;

    (void)state;
    d = json_object_get(p, "status");
    want = json_pack("{s:n,s:{s:i},s:[i,i],s:s}", "lastScaleTime", "plan", "pending", 0,
                     "instances", 1, 2, "targetImage", "x");
    assert_true(json_equal(d, want));
    json_decref(want);
    json_decref(p);
    /* no old status: the whole new one */
    p = kstatus_merge_patch(NULL, new);
    assert_true(json_equal(json_object_get(p, "status"), new));
    json_decref(p);
    json_decref(old);
    json_decref(new);
}

/* ImageVersion / ExpiryPolicy status: usedBy sorted without duplicates, Ready/Stalled. */
static void test_ref_status(void **state)
{
    const char *used[] = {"runners", "agents", "runners"};
    json_t *extra = json_pack("{s:s}", "resolvedVersion", "1.5.0");
    json_t *s = kstatus_ref(used, 3, true, NULL, "in use", extra, 5, NULL, T0), *s2;

    (void)state;
    assert_non_null(s);
    assert_int_equal(json_array_size(json_object_get(s, "usedBy")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "usedBy"), 0)),
                        "agents");
    assert_string_equal(json_string_value(json_object_get(s, "resolvedVersion")), "1.5.0");
    assert_int_equal(json_integer_value(json_object_get(s, "observedGeneration")), 5);
    assert_string_equal(cstr(s, "Ready", "status"), "True");
    assert_string_equal(cstr(s, "Ready", "reason"), "Valid");
    assert_string_equal(cstr(s, "Stalled", "status"), "False");
    s2 = kstatus_ref(NULL, 0, false, "ImageNotFound", "no version 9.9.9 in gallery g", NULL, 6, s,
                     T0 + 5000);
    assert_string_equal(cstr(s2, "Ready", "status"), "False");
    assert_string_equal(cstr(s2, "Ready", "reason"), "ImageNotFound");
    assert_string_equal(cstr(s2, "Ready", "lastTransitionTime"), "2026-11-24T10:00:05Z");
    assert_string_equal(cstr(s2, "Stalled", "status"), "True");
    assert_string_equal(cstr(s2, "Reconciling", "status"), "False");
    assert_string_equal(cstr(s2, "Degraded", "lastTransitionTime"), "2026-11-24T10:00:00Z");
    assert_int_equal(json_array_size(json_object_get(s2, "usedBy")), 0);
    assert_true(kstatus_changed(s, s2));
    json_decref(extra);
    json_decref(s);
    json_decref(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converged_pool),
        cmocka_unit_test(test_transition_time_only_on_status_change),
        cmocka_unit_test(test_prev_without_time_gets_now),
        cmocka_unit_test(test_recompute_is_unchanged),
        cmocka_unit_test(test_degraded_rollout_halted),
        cmocka_unit_test(test_degraded_failed_instances),
        cmocka_unit_test(test_stalled),
        cmocka_unit_test(test_stalled_is_not_reconciling),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_reason_and_message_limits),
        cmocka_unit_test(test_instances_and_times),
        cmocka_unit_test(test_changed_ignores_order_only),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_ref_status),
    };

    return az_run_tests("kstatus", tests);
}
