/*
 * armsim_test_time.c - simulated time: scaling, rebasing when the scale changes, jumps,
 * conversion back to real time, the timestamp format, scheduled transitions (order, ties,
 * only when due), provisioning that follows the time scale, and snapshot/restore of a world
 * with compact VMSS instances.
 */
#include "test_main.h"

#include "armsim_test_util.h"

/* Simulated time runs `scale` times faster than the (fake) real clock and never jumps back
 * when the scale changes. */
static void test_scale_and_rebase(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(60, 1000);
    int64_t t0 = as_now(sim);
    tx_clock_ms += 1000;
    assert_int_equal(as_now(sim) - t0, 60000);
    as_time_set_scale(sim, 1);
    assert_int_equal(as_now(sim) - t0, 60000); /* no jump */
    tx_clock_ms += 1000;
    assert_int_equal(as_now(sim) - t0, 61000);
    as_time_advance(sim, 3600 * 1000);
    assert_int_equal(as_now(sim) - t0, 3661000);
    as_time_set_scale(sim, 0); /* refused */
    assert_true(as_time_scale(sim) == 1);
    as_time_set_scale(sim, 1000);
    assert_int_equal(as_sim_to_real_ms(sim, 30000), 30);
    armsim_free(sim);
}

static void test_time_format(void **state)
{
    (void)state;
    char buf[48];
    as_time_format(1795435200123, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-23T12:00:00.1230000+00:00");
    as_time_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.0000000+00:00");
}

static char order[64];

static void rec(struct armsim *sim, const char *id, json_t *arg)
{
    (void)sim;
    (void)arg;
    size_t n = strlen(order);
    snprintf(order + n, sizeof(order) - n, "%s", id);
}

/* Transitions run once, when due, in due order, ties in scheduling order. */
static void test_schedule_order(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 1000);
    order[0] = 0;
    assert_int_equal(as_sched_handler(sim, "test.rec", rec), 0);
    int64_t now = as_now(sim);
    assert_int_equal(as_sched_at(sim, now + 300, "test.rec", "c", NULL), 0);
    assert_int_equal(as_sched_at(sim, now + 100, "test.rec", "a", NULL), 0);
    assert_int_equal(as_sched_at(sim, now + 200, "test.rec", "b1", NULL), 0);
    assert_int_equal(as_sched_at(sim, now + 200, "test.rec", "b2", NULL), 0);
    assert_int_equal(as_sched_at(sim, now, "no.such.handler", "x", NULL), -1);
    as_sched_run(sim);
    assert_string_equal(order, "");
    tx_clock_ms += 200;
    as_sched_run(sim);
    assert_string_equal(order, "ab1b2");
    tx_clock_ms += 1000;
    as_sched_run(sim);
    as_sched_run(sim);
    assert_string_equal(order, "ab1b2c");
    armsim_free(sim);
}

/* With time scale 100, a 30 s provisioning finishes after 0.3 real seconds. */
static void test_provisioning_follows_scale(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(100, 30000);
    char tk[2048], body[1024];
    snprintf(tk, sizeof(tk), "%s", tx_login(sim, "app-time"));
    struct tx_resp t = tx_call(sim, "PUT", TX_RG "?api-version=2021-04-01",
                               "{\"location\":\"westus\"}", tk, NULL, NULL);
    tx_done(&t);
    snprintf(body, sizeof(body), TX_VMSS_BODY, 1, "1.0.0");
    t = tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/p" TX_API, body, tk, NULL, NULL);
    assert_int_equal(t.status, 201);
    tx_done(&t);
    tx_clock_ms += 299;
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/p/virtualMachines/0" TX_API, NULL, tk,
                NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.body, "properties"),
                                                          "provisioningState")),
                        "Creating");
    tx_done(&t);
    tx_clock_ms += 1;
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/p/virtualMachines/0" TX_API, NULL, tk,
                NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.body, "properties"),
                                                          "provisioningState")),
                        "Succeeded");
    tx_done(&t);
    /* backdating moves timeCreated */
    t = tx_call(sim, "POST", "/_armsim/backdate",
                "{\"id\":\"" TX_C "/virtualMachineScaleSets/p/virtualMachines/0\","
                "\"timeCreated\":\"2026-11-01T00:00:00Z\"}",
                "", NULL, NULL);
    assert_int_equal(t.status, 200);
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/p/virtualMachines/0" TX_API, NULL, tk,
                NULL, NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t.body, "properties"), "timeCreated")),
        "2026-11-01T00:00:00.0000000+00:00");
    tx_done(&t);
    armsim_free(sim);
}

/* A snapshot restored into a fresh world gives the same instances (ids, states, creation
 * times, model generations) and pending transitions still happen. */
static void test_snapshot_roundtrip(void **state)
{
    (void)state;
    struct armsim *sim = tx_world(1, 10000);
    char tk[2048], body[1024];
    snprintf(tk, sizeof(tk), "%s", tx_login(sim, "app-snap"));
    struct tx_resp t = tx_call(sim, "PUT", TX_RG "?api-version=2021-04-01",
                               "{\"location\":\"westus\"}", tk, NULL, NULL);
    tx_done(&t);
    snprintf(body, sizeof(body), TX_VMSS_BODY, 3, "1.0.0");
    t = tx_call(sim, "PUT", TX_C "/virtualMachineScaleSets/p" TX_API, body, tk, NULL, NULL);
    tx_done(&t);
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/p/virtualMachines" TX_API, NULL, tk,
                NULL, NULL);
    char *before = json_dumps(json_object_get(t.body, "value"), JSON_SORT_KEYS);
    tx_done(&t);
    json_t *snap = armsim_snapshot(sim);
    armsim_free(sim);

    sim = tx_world(1, 10000);
    assert_int_equal(armsim_restore(sim, snap), 0);
    json_decref(snap);
    snprintf(tk, sizeof(tk), "%s", tx_login(sim, "app-snap"));
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/p/virtualMachines" TX_API, NULL, tk,
                NULL, NULL);
    char *after = json_dumps(json_object_get(t.body, "value"), JSON_SORT_KEYS);
    tx_done(&t);
    assert_string_equal(before, after);
    free(before);
    free(after);
    tx_clock_ms += 10000;
    t = tx_call(sim, "GET", TX_C "/virtualMachineScaleSets/p" TX_API, NULL, tk, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.body, "properties"),
                                                          "provisioningState")),
                        "Succeeded");
    tx_done(&t);
    armsim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_and_rebase),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_schedule_order),
        cmocka_unit_test(test_provisioning_follows_scale),
        cmocka_unit_test(test_snapshot_roundtrip),
    };
    return az_run_tests("armsim_time", tests);
}
