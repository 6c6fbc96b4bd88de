/*
 * test_plan_index.c - the planner's lookup indexes (reconcile/rc_plan_index.c)
 * against a brute-force scan.
 *
 * The build reads each key once: a key equal to the one added before it
 * continues that entry's run and takes its hash; only run heads are sorted.
 * Random worlds mix long runs (a scale set's instances listed together),
 * runs of one key split by others, case variants (equal for Azure, different
 * for strcmp) and keys whose hashes collide (same length and last 40
 * characters). Every lookup must return exactly the instances of that key,
 * case-insensitively, in array order, and the distinct keys of an index must
 * be counted once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan_apply.h"
#include "rc_observed.h"
#include "rc_plan_int.h"
#include "rc_util.h"
#include "test_main.h"

#define SS "/providers/Microsoft.Compute/virtualMachineScaleSets/hw"

/* a/b/c collide (same length, same last 40 characters); a2 is a in other case. */
static const char *const keys[] = {"/subscriptions/aaaa/resourceGroups/rg" SS,
                                   "/subscriptions/bbbb/resourceGroups/rg" SS,
                                   "/subscriptions/cccc/resourceGroups/rg" SS,
                                   "/SUBSCRIPTIONS/AAAA/resourceGroups/RG" SS,
                                   "/subscriptions/dddd/resourceGroups/rg" SS "-other",
                                   "/x/short",
                                   "/X/SHORT",
                                   "/y"};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* the class of a key under case-insensitive comparison */
static int key_class(const char *k)
{
    size_t i;

    for (i = 0; i < N_KEYS; i++)
        if (rc_strcasecmp(k, keys[i]) == 0)
            return (int)i;
    return -1;
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void check_world(const struct rc_observed *have, const struct rp_world *w)
{
    size_t k, i, distinct = 0, seen_classes = 0;
    bool present[N_KEYS] = {false};

    for (k = 0; k < have->n_instances; k++)
        if (have->instances[k].scale_set_id &&
            !present[key_class(have->instances[k].scale_set_id)]) {
            present[key_class(have->instances[k].scale_set_id)] = true;
            seen_classes++;
        }
    for (k = 0; k < N_KEYS; k++) {
        size_t first, end, want_n = 0, last = 0;
        bool any = false;

        first = rp_index_range(&w->inst_ss, keys[k], &end);
        for (i = 0; i < have->n_instances; i++)
            if (have->instances[i].scale_set_id &&
                rc_strcasecmp(have->instances[i].scale_set_id, keys[k]) == 0)
                want_n++;
        if (want_n == 0) {
            assert_true(end <= first);
            continue;
        }
        assert_int_equal(end - first, want_n);
        for (i = first; i < end; i++) {
            size_t idx = w->inst_ss.v[i].idx;

            assert_int_equal(rc_strcasecmp(have->instances[idx].scale_set_id, keys[k]), 0);
            if (any)
                assert_true(idx > last); /* array order within a key */
            last = idx;
            any = true;
        }
    }
    for (i = 0; i < w->inst_ss.n; i++)
        distinct += w->inst_ss.v[i].same ? 0 : 1;
    assert_int_equal(distinct, seen_classes);
}

/* Random runs over colliding, case-variant and plain keys, with standalone
 * VMs in between (they are in another index). */
static void test_index_runs_match_brute_force(void **state)
{
    int round;

    (void)state;
    for (round = 0; round < 300; round++) {
        struct rc_desired want = {0};
        struct rc_observed have = {0};
        struct rp_world w;
        unsigned n_runs = 1 + rnd(12), r;

        for (r = 0; r < n_runs; r++) {
            unsigned len = 1 + rnd(rnd(4) == 0 ? 30 : 4), j;
            const char *key = keys[rnd(N_KEYS)];

            for (j = 0; j < len; j++) {
                struct rc_obs_instance *o = pa_add_instance(&have);

                assert_non_null(o);
                if (rnd(12) == 0) {
                    o->name = rc_strdup("vm-standalone");
                    continue;
                }
                o->name = rc_strdup("hw_0");
                o->scale_set_id = rc_strdup(key);
            }
        }
        assert_int_equal(rp_world_build(&w, &want, &have, true), 0);
        check_world(&have, &w);
        rp_world_release(&w);
        rc_observed_release(&have);
    }
}

/* One run per key, keys in a colliding order: a b a(upper) c a. */
static void test_index_collisions_in_runs(void **state)
{
    struct rc_desired want = {0};
    struct rc_observed have = {0};
    struct rp_world w;
    const int order[] = {0, 0, 0, 1, 1, 3, 3, 2, 0, 0};
    size_t i, first, end;

    (void)state;
    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        struct rc_obs_instance *o = pa_add_instance(&have);

        o->name = rc_strdup("hw_0");
        o->scale_set_id = rc_strdup(keys[order[i]]);
    }
    assert_int_equal(rp_world_build(&w, &want, &have, true), 0);
    first = rp_index_range(&w.inst_ss, keys[0], &end);
    assert_int_equal(end - first, 7); /* 0,1,2,5,6,8,9 */
    assert_int_equal(w.inst_ss.v[first].idx, 0);
    assert_int_equal(w.inst_ss.v[first + 3].idx, 5);
    assert_int_equal(w.inst_ss.v[end - 1].idx, 9);
    first = rp_index_range(&w.inst_ss, keys[1], &end);
    assert_int_equal(end - first, 2);
    first = rp_index_range(&w.inst_ss, keys[2], &end);
    assert_int_equal(end - first, 1);
    assert_int_equal(w.inst_ss.v[first].idx, 7);
    check_world(&have, &w);
    rp_world_release(&w);
    rc_observed_release(&have);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_runs_match_brute_force),
        cmocka_unit_test(test_index_collisions_in_runs),
    };

    return az_run_tests("plan_index", tests);
}
