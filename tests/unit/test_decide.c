/* test_decide.c - autoscale (Step, Proportional), expiry jitter and maintenance windows. */
#include "test_main.h"

#include <string.h>

#include "rc_decide.h"

static int64_t T(const char *s)
{
    int64_t ms = 0;

    assert_int_equal(rc_time_parse(s, &ms, NULL), 0);
    return ms;
}

/* seed 003 defaults */
static void step_policy(struct rc_autoscale *as, int min, int max)
{
    memset(as, 0, sizeof(*as));
    as->enabled = true;
    as->min_replicas = min;
    as->max_replicas = max;
    as->policy = RC_POLICY_STEP;
    as->step = (struct rc_step_policy){3, 1, 1, 1, 240, 300};
    as->proportional = (struct rc_proportional_policy){1, 20};
}

static struct rc_autoscale_out decide(const struct rc_autoscale *as, int current, int busy,
                                      int64_t signal, int64_t last_out, int64_t last_in,
                                      int64_t now)
{
    struct rc_autoscale_in in = {current, busy, true, signal, last_out, last_in, now};
    struct rc_autoscale_out out;

    assert_int_equal(rc_autoscale_decide(as, &in, &out), 0);
    return out;
}

static void test_step_thresholds(void **state)
{
    struct rc_autoscale as;
    struct rc_autoscale_out o;
    int64_t now = T("2026-11-23T10:00:00Z");

    (void)state;
    step_policy(&as, 1, 10);
    /* pending >= 3: out by one */
    o = decide(&as, 2, 0, 3, 0, 0, now);
    assert_int_equal(o.desired, 3);
    assert_string_equal(o.reason, "ScaleOut");
    assert_int_equal(o.next_ms, 0);
    /* 2 pending: between the thresholds */
    o = decide(&as, 2, 0, 2, 0, 0, now);
    assert_int_equal(o.desired, 2);
    assert_string_equal(o.reason, "Steady");
    /* pending <= 1: in by one */
    o = decide(&as, 4, 0, 1, 0, 0, now);
    assert_int_equal(o.desired, 3);
    assert_string_equal(o.reason, "ScaleIn");
    o = decide(&as, 4, 0, 0, 0, 0, now);
    assert_int_equal(o.desired, 3);
    /* bigger steps, capped by max and min */
    as.step.scale_out_step = 5;
    as.step.scale_in_step = 5;
    o = decide(&as, 8, 0, 50, 0, 0, now);
    assert_int_equal(o.desired, 10);
    assert_string_equal(o.reason, "ScaleOut");
    o = decide(&as, 10, 0, 50, 0, 0, now);
    assert_int_equal(o.desired, 10);
    assert_string_equal(o.reason, "AtMaximum");
    o = decide(&as, 3, 0, 0, 0, 0, now);
    assert_int_equal(o.desired, 1);
    assert_string_equal(o.reason, "ScaleIn");
    o = decide(&as, 1, 0, 0, 0, 0, now);
    assert_int_equal(o.desired, 1);
    assert_string_equal(o.reason, "AtMinimum");
}

static void test_step_cooldowns(void **state)
{
    struct rc_autoscale as;
    struct rc_autoscale_out o;
    int64_t now = T("2026-11-23T10:00:00Z");

    (void)state;
    step_policy(&as, 0, 10);
    /* scale-out cooldown 240 s from the last scale-out */
    o = decide(&as, 2, 0, 5, now - 100000, 0, now);
    assert_int_equal(o.desired, 2);
    assert_string_equal(o.reason, "Cooldown");
    assert_int_equal(o.next_ms, now + 140000);
    o = decide(&as, 2, 0, 5, now - 240000, 0, now);
    assert_int_equal(o.desired, 3);
    assert_string_equal(o.reason, "ScaleOut");
    /* a recent scale-in does not block a scale-out: separate cooldowns */
    o = decide(&as, 2, 0, 5, 0, now - 1000, now);
    assert_int_equal(o.desired, 3);
    /* scale-in cooldown 300 s from the last scale-in */
    o = decide(&as, 4, 0, 0, 0, now - 299999, now);
    assert_string_equal(o.reason, "Cooldown");
    assert_int_equal(o.desired, 4);
    assert_int_equal(o.next_ms, now + 1);
    o = decide(&as, 4, 0, 0, 0, now - 300000, now);
    assert_string_equal(o.reason, "ScaleIn");
    assert_int_equal(o.desired, 3);
    /* and a recent scale-out does not block a scale-in */
    o = decide(&as, 4, 0, 0, now - 1000, 0, now);
    assert_int_equal(o.desired, 3);
}

static void test_step_busy_floor_and_bounds(void **state)
{
    struct rc_autoscale as;
    struct rc_autoscale_out o;
    struct rc_autoscale_in in = {5, 2, false, 0, 0, 0, 0};
    int64_t now = T("2026-11-23T10:00:00Z");

    (void)state;
    step_policy(&as, 0, 10);
    as.step.scale_in_step = 4;
    /* 5 -> 1 wanted, 3 busy: stops at 3 */
    o = decide(&as, 5, 3, 0, 0, 0, now);
    assert_int_equal(o.desired, 3);
    assert_string_equal(o.reason, "ScaleIn");
    /* all busy: nothing to remove */
    o = decide(&as, 3, 3, 0, 0, 0, now);
    assert_int_equal(o.desired, 3);
    assert_string_equal(o.reason, "Steady");
    /* scale to zero with minReplicas 0 */
    o = decide(&as, 1, 0, 0, 0, 0, now);
    assert_int_equal(o.desired, 0);
    assert_string_equal(o.reason, "ScaleIn");
    /* outside the bounds: corrected at once, cooldown or not */
    step_policy(&as, 2, 4);
    o = decide(&as, 0, 0, 0, 0, now - 1, now);
    assert_int_equal(o.desired, 2);
    assert_string_equal(o.reason, "ScaleOut");
    o = decide(&as, 7, 0, 9, now - 1, 0, now);
    assert_int_equal(o.desired, 4);
    assert_string_equal(o.reason, "ScaleIn");
    /* no signal: keep, clamped */
    assert_int_equal(rc_autoscale_decide(&as, &in, &o), 0);
    assert_int_equal(o.desired, 4);
    assert_string_equal(o.reason, "NoSignal");
    in.current = 3;
    assert_int_equal(rc_autoscale_decide(&as, &in, &o), 0);
    assert_int_equal(o.desired, 3);
    assert_string_equal(o.reason, "NoSignal");
}

static void test_proportional(void **state)
{
    struct rc_autoscale as;
    struct rc_autoscale_out o;
    int64_t now = T("2026-11-23T10:00:00Z");

    (void)state;
    step_policy(&as, 0, 20);
    as.policy = RC_POLICY_PROPORTIONAL; /* jobsPerReplica 1, freeTarget 20% */
    /* 10 busy, nothing pending: 10 + ceil(10 * 20%) = 12 */
    o = decide(&as, 10, 10, 0, 0, 0, now);
    assert_int_equal(o.desired, 12);
    assert_string_equal(o.reason, "ScaleOut");
    /* 4 busy, 3 pending: needed 7, + ceil(1.4) = 9 */
    o = decide(&as, 9, 4, 3, 0, 0, now);
    assert_int_equal(o.desired, 9);
    assert_string_equal(o.reason, "Steady");
    /* idle pool shrinks to zero (scale to zero) */
    o = decide(&as, 5, 0, 0, 0, 0, now);
    assert_int_equal(o.desired, 0);
    assert_string_equal(o.reason, "ScaleIn");
    /* 2 busy: 2 + ceil(0.4) = 3, from 8 */
    o = decide(&as, 8, 2, 0, 0, 0, now);
    assert_int_equal(o.desired, 3);
    /* no cooldown in this policy */
    o = decide(&as, 8, 2, 0, now - 1, now - 1, now);
    assert_int_equal(o.desired, 3);
    /* jobsPerReplica 4: 9 pending -> 3 replicas; freeTarget 50% -> +2 = 5 */
    as.proportional.jobs_per_replica = 4;
    as.proportional.free_target_percentage = 50;
    o = decide(&as, 1, 0, 9, 0, 0, now);
    assert_int_equal(o.desired, 5);
    /* min / max */
    as.min_replicas = 2;
    as.max_replicas = 6;
    o = decide(&as, 3, 0, 0, 0, 0, now);
    assert_int_equal(o.desired, 2);
    assert_string_equal(o.reason, "ScaleIn");
    o = decide(&as, 2, 0, 0, 0, 0, now);
    assert_int_equal(o.desired, 2);
    assert_string_equal(o.reason, "AtMinimum");
    o = decide(&as, 6, 6, 1000, 0, 0, now);
    assert_int_equal(o.desired, 6);
    assert_string_equal(o.reason, "AtMaximum");
    o = decide(&as, 4, 0, INT64_MAX, 0, 0, now);
    assert_int_equal(o.desired, 6);
    assert_string_equal(o.reason, "ScaleOut");
    /* busy floor when scaling in: 5 busy, freeTarget 0 -> never below 5 */
    as.proportional.free_target_percentage = 0;
    as.proportional.jobs_per_replica = 1;
    o = decide(&as, 6, 5, 0, 0, 0, now);
    assert_int_equal(o.desired, 5);
}

static void test_expiry(void **state)
{
    struct rc_expiry_spec ep;
    int64_t created = T("2026-11-15T09:00:00Z"), week = 168LL * 3600000, lo, hi, a, b;
    int distinct = 0;
    int64_t prev = 0;
    char name[32];

    (void)state;
    memset(&ep, 0, sizeof(ep));
    assert_int_equal(rc_expiry_at(NULL, "x", created), 0);
    ep.max_age_ms = week;
    /* no jitter: exactly maxAge */
    assert_int_equal(rc_expiry_at(&ep, "hw-0-a", created), created + week);
    /* unknown creation time: never expires for age */
    assert_int_equal(rc_expiry_at(&ep, "hw-0-a", 0), 0);
    assert_int_equal(rc_intstr_parse("10%", &ep.jitter, NULL), 0);
    lo = created + week - week / 10;
    hi = created + week;
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "hw-%d-a", i);
        a = rc_expiry_at(&ep, name, created);
        b = rc_expiry_at(&ep, name, created);
        assert_int_equal(a, b); /* deterministic */
        assert_true(a >= lo && a <= hi);
        if (a != prev)
            distinct++;
        prev = a;
    }
    assert_true(distinct > 150); /* spread out */
    /* forceAfter */
    assert_int_equal(rc_expiry_force_at(&ep, created), 0);
    ep.force_after_ms = 192LL * 3600000;
    assert_int_equal(rc_expiry_force_at(&ep, created), created + 192LL * 3600000);
    assert_int_equal(rc_expiry_force_at(NULL, created), 0);
    /* 100% jitter stays within [created, created + maxAge] */
    ep.jitter.value = 100;
    a = rc_expiry_at(&ep, "hw-3-b", created);
    assert_true(a >= created && a <= created + week);
}

static void test_windows(void **state)
{
    static const int64_t at[] = {1761440400000LL /* 2025-10-26T01:00Z */,
                                 1774746000000LL /* 2026-03-29T01:00Z */,
                                 1792890000000LL /* 2026-10-25T01:00Z */};
    static const int32_t off[] = {3600, 7200, 3600};
    struct rc_tz berlin = {"Europe/Berlin", at, off, 3};
    struct rc_policy pol;
    struct rc_window w[2];
    struct rc_expiry_spec ep;
    struct rc_err err;
    bool open;
    int64_t end, next;

    (void)state;
    rc_policy_init(&pol);
    memset(&ep, 0, sizeof(ep));
    memset(w, 0, sizeof(w));
    /* no windows: always open */
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T10:00:00Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(end, 0);

    /* weekdays 02:00-04:00 UTC */
    assert_int_equal(rc_cron_parse("0 2 * * 1-5", &w[0].cron, NULL), 0);
    w[0].duration_ms = 2 * 3600000;
    ep.windows = w;
    ep.n_windows = 1;
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T10:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, T("2026-11-24T02:00:00Z"));
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-24T02:00:00Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(end, T("2026-11-24T04:00:00Z"));
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-24T03:59:59.999Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-24T04:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open); /* end is exclusive */
    assert_int_equal(next, T("2026-11-25T02:00:00Z"));
    /* Friday after the window -> Monday */
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-27T05:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, T("2026-11-30T02:00:00Z"));
    /* a window that spans midnight: Saturday 22:00 for 6h is open Sunday 03:00 */
    assert_int_equal(rc_cron_parse("0 22 * * sat", &w[0].cron, NULL), 0);
    w[0].duration_ms = 6 * 3600000;
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-29T03:00:00Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(end, T("2026-11-29T04:00:00Z"));

    /* offset zone: 02:00 Europe/Berlin = 01:00Z in November, 00:00Z in July */
    assert_int_equal(rc_cron_parse("0 2 * * *", &w[0].cron, NULL), 0);
    w[0].duration_ms = 3600000;
    w[0].time_zone = "Europe/Berlin";
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T01:30:00Z"), &open, &end, &next, &err),
        -RC_ENOTFOUND);
    assert_string_equal(err.path, "spec.maintenanceWindows[0].timeZone");
    pol.zones = &berlin;
    pol.n_zones = 1;
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T01:30:00Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(end, T("2026-11-23T02:00:00Z"));
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T02:30:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, T("2026-11-24T01:00:00Z"));
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-07-01T00:30:00Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(end, T("2026-07-01T01:00:00Z"));
    /* autumn: 02:00 local happens twice on 2026-10-25; the first is 00:00Z (UTC+2) */
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-10-24T20:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, T("2026-10-25T00:00:00Z"));
    /* spring: on 2026-03-28 (UTC+1) the next 04:00 local is 02:00Z, already UTC+2 */
    assert_int_equal(rc_cron_parse("0 4 * * *", &w[0].cron, NULL), 0);
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-03-28T20:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, T("2026-03-29T02:00:00Z"));
    /* and inside it at 02:30Z: the start found with UTC+2 */
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-03-29T02:30:00Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(end, T("2026-03-29T03:00:00Z"));

    /* two windows: open in either; the latest end wins; next is the earliest */
    w[0].time_zone = NULL;
    assert_int_equal(rc_cron_parse("0 2 * * *", &w[0].cron, NULL), 0);
    w[0].duration_ms = 2 * 3600000;
    assert_int_equal(rc_cron_parse("0 3 * * *", &w[1].cron, NULL), 0);
    w[1].duration_ms = 3 * 3600000;
    ep.n_windows = 2;
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T03:30:00Z"), &open, &end, &next, NULL), 0);
    assert_true(open);
    assert_int_equal(end, T("2026-11-23T06:00:00Z"));
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T12:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, T("2026-11-24T02:00:00Z"));
    /* zero duration never opens; nothing within a year: next 0 */
    ep.n_windows = 1;
    w[0].duration_ms = 0;
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T02:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, 0);
    w[0].duration_ms = 3600000;
    assert_int_equal(rc_cron_parse("0 0 29 2 *", &w[0].cron, NULL), 0);
    assert_int_equal(
        rc_window_state(&ep, &pol, T("2026-11-23T02:00:00Z"), &open, &end, &next, NULL), 0);
    assert_false(open);
    assert_int_equal(next, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_thresholds),
        cmocka_unit_test(test_step_cooldowns),
        cmocka_unit_test(test_step_busy_floor_and_bounds),
        cmocka_unit_test(test_proportional),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_windows),
    };

    return az_run_tests("decide", tests);
}
