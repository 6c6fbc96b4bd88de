/* test_wq.c - the reconcile work queue (controller/wq.h). */
#include "test_main.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rc_err.h"
#include "wq.h"

static struct wq *new_q(void)
{
    struct wq *q = wq_new(5, 300000, 0, 0);

    assert_non_null(q);
    return q;
}

/* A key added twice is queued once. */
static void test_add_is_deduplicated(void **state)
{
    struct wq *q = new_q();
    const char *k;

    (void)state;
    assert_int_equal(wq_add(q, "WorkerPool/ops/a", 0), 0);
    assert_int_equal(wq_add(q, "WorkerPool/ops/a", 0), 0);
    assert_int_equal(wq_depth(q), 1);
    assert_int_equal(wq_next(q, 0, &k), 1);
    assert_string_equal(k, "WorkerPool/ops/a");
    assert_int_equal(wq_next(q, 0, &k), 0);
    wq_done(q, "WorkerPool/ops/a", 0);
    assert_int_equal(wq_depth(q), 0);
    wq_free(q);
}

/* While a key is processed it is not handed out; an add marks it dirty and
 * wq_done requeues it once. */
static void test_add_while_active_requeues_after_done(void **state)
{
    struct wq *q = new_q();
    const char *k;

    (void)state;
    wq_add(q, "a", 0);
    assert_int_equal(wq_next(q, 0, &k), 1);
    wq_add(q, "a", 1);
    wq_add(q, "a", 2);
    assert_int_equal(wq_depth(q), 0);
    assert_int_equal(wq_next(q, 10, &k), 0);
    wq_done(q, "a", 10);
    assert_int_equal(wq_depth(q), 1);
    assert_int_equal(wq_next(q, 10, &k), 1);
    assert_string_equal(k, "a");
    wq_done(q, "a", 10);
    assert_int_equal(wq_next(q, 10, &k), 0);
    wq_free(q);
}

/* Keys come out in due order, FIFO among equal due times. */
static void test_order_by_due_then_fifo(void **state)
{
    struct wq *q = new_q();
    const char *k;

    (void)state;
    wq_add_at(q, "late", 100);
    wq_add(q, "first", 0);
    wq_add(q, "second", 0);
    assert_int_equal(wq_next_due(q), 0);
    assert_int_equal(wq_next(q, 0, &k), 1);
    assert_string_equal(k, "first");
    wq_done(q, k, 0);
    assert_int_equal(wq_next(q, 0, &k), 1);
    assert_string_equal(k, "second");
    wq_done(q, k, 0);
    assert_int_equal(wq_next(q, 99, &k), 0);
    assert_int_equal(wq_next_due(q), 100);
    assert_int_equal(wq_next(q, 100, &k), 1);
    assert_string_equal(k, "late");
    wq_done(q, k, 100);
    assert_int_equal(wq_next_due(q), INT64_MAX);
    wq_free(q);
}

/* An earlier schedule wins over a later one, never the reverse. */
static void test_earlier_schedule_wins(void **state)
{
    struct wq *q = new_q();

    (void)state;
    wq_add_at(q, "a", 500);
    wq_add_at(q, "a", 900);
    assert_int_equal(wq_next_due(q), 500);
    wq_add_at(q, "a", 200);
    assert_int_equal(wq_next_due(q), 200);
    assert_int_equal(wq_depth(q), 1);
    wq_free(q);
}

/* Backoff doubles from 5 ms per failure, caps at 5 min, and resets on forget. */
static void test_retry_backoff_doubles_and_caps(void **state)
{
    struct wq *q = new_q();
    const char *k;
    int64_t now = 0, expect = 5;

    (void)state;
    wq_add(q, "a", now);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(wq_next(q, now, &k), 1);
        wq_retry(q, "a", now);
        assert_int_equal(wq_next_due(q) - now, expect);
        now = wq_next_due(q);
        expect = expect * 2 > 300000 ? 300000 : expect * 2;
    }
    assert_int_equal(wq_failures(q, "a"), 20);
    assert_int_equal(wq_next(q, now, &k), 1);
    wq_forget(q, "a");
    wq_done(q, "a", now);
    assert_int_equal(wq_failures(q, "a"), 0);
    wq_add(q, "a", now);
    assert_int_equal(wq_next(q, now, &k), 1);
    wq_retry(q, "a", now);
    assert_int_equal(wq_next_due(q) - now, 5);
    wq_free(q);
}

/* The global bucket spaces retries of many keys once the burst is spent. */
static void test_global_bucket_limits_retries(void **state)
{
    struct wq *q = wq_new(5, 300000, 10, 2); /* 10 retries/s after a burst of 2 */
    const char *k;
    char key[16];

    (void)state;
    assert_non_null(q);
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        wq_add(q, key, 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(wq_next(q, 0, &k), 1);
        wq_retry(q, k, 0);
    }
    /* Two retries fit the burst (due at the 5 ms backoff), the third waits
     * 100 ms for a token, the fourth 200 ms. */
    assert_int_equal(wq_next(q, 5, &k), 1);
    wq_done(q, k, 5);
    assert_int_equal(wq_next(q, 5, &k), 1);
    wq_done(q, k, 5);
    assert_int_equal(wq_next(q, 99, &k), 0);
    assert_int_equal(wq_next_due(q), 100);
    assert_int_equal(wq_next(q, 100, &k), 1);
    wq_done(q, k, 100);
    assert_int_equal(wq_next_due(q), 200);
    wq_free(q);
}

/* A key removed while active is dropped at done, even if it was re-added
 * before the removal; a queued key is dropped at once. */
static void test_remove(void **state)
{
    struct wq *q = new_q();
    const char *k;

    (void)state;
    wq_add(q, "a", 0);
    wq_add(q, "b", 0);
    wq_remove(q, "b");
    assert_int_equal(wq_depth(q), 1);
    assert_int_equal(wq_next(q, 0, &k), 1);
    wq_add(q, "a", 0);
    wq_remove(q, "a");
    wq_done(q, "a", 0);
    assert_int_equal(wq_depth(q), 0);
    assert_int_equal(wq_active(q), 0);
    wq_free(q);
}

/* Bad keys are refused; many keys grow the table without losing any. */
static void test_limits_and_growth(void **state)
{
    struct wq *q = new_q();
    char big[WQ_KEY_MAX + 2];
    char key[32];
    const char *k;
    int n = 0;

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(wq_add(q, "", 0), -RC_EINVAL);
    assert_int_equal(wq_add(q, big, 0), -RC_EINVAL);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "WorkerPool/ns/p%d", i);
        assert_int_equal(wq_add(q, key, i % 7), 0);
    }
    assert_int_equal(wq_depth(q), 5000);
    while (wq_next(q, 10, &k) == 1) {
        wq_done(q, k, 10);
        n++;
    }
    assert_int_equal(n, 5000);
    wq_free(q);
    wq_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_is_deduplicated),
        cmocka_unit_test(test_add_while_active_requeues_after_done),
        cmocka_unit_test(test_order_by_due_then_fifo),
        cmocka_unit_test(test_earlier_schedule_wins),
        cmocka_unit_test(test_retry_backoff_doubles_and_caps),
        cmocka_unit_test(test_global_bucket_limits_retries),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_limits_and_growth),
    };
    return az_run_tests("wq", tests);
}
