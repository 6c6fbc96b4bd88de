/* test_metrics.c - Prometheus text exposition (controller/metrics.h). */
#include "test_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Counters, gauges and a histogram render exactly in the 0.0.4 text format,
 * histogram buckets cumulative with +Inf, _sum and _count. */
static void test_render_exact(void **state)
{
    static const char *const mc[] = {"method", "code", NULL};
    static const double b[] = {0.1, 1};
    struct metrics *m = metrics_new();
    struct metric_family *req, *depth, *dur;
    char *text;
    size_t len;

    (void)state;
    assert_non_null(m);
    req = metrics_define(m, "azpool_arm_requests_total", METRIC_COUNTER, "ARM requests.", mc, NULL,
                         0);
    depth = metrics_define(m, "azpool_workqueue_depth", METRIC_GAUGE, "Depth.", NULL, NULL, 0);
    dur = metrics_define(m, "azpool_reconcile_duration_seconds", METRIC_HISTOGRAM, "Durations.",
                         NULL, b, 2);
    assert_non_null(req);
    assert_non_null(depth);
    assert_non_null(dur);
    assert_null(metrics_define(m, "azpool_workqueue_depth", METRIC_GAUGE, "again", NULL, NULL, 0));
    metrics_add(req, (const char *const[]){"GET", "200"}, 2);
    metrics_add(req, (const char *const[]){"PUT", "429"}, 1);
    metrics_add(req, (const char *const[]){"GET", "200"}, 1);
    metrics_add(req, (const char *const[]){"GET", "200"}, -5); /* counters never go down */
    metrics_set(depth, NULL, 3);
    metrics_observe(dur, NULL, 0.05);
    metrics_observe(dur, NULL, 0.5);
    metrics_observe(dur, NULL, 7.25);
    text = metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, "# HELP azpool_metrics_dropped_series_total Series not recorded "
                              "because a family reached its limit.\n"
                              "# TYPE azpool_metrics_dropped_series_total counter\n"
                              "azpool_metrics_dropped_series_total 0\n"
                              "# HELP azpool_arm_requests_total ARM requests.\n"
                              "# TYPE azpool_arm_requests_total counter\n"
                              "azpool_arm_requests_total{method=\"GET\",code=\"200\"} 3\n"
                              "azpool_arm_requests_total{method=\"PUT\",code=\"429\"} 1\n"
                              "# HELP azpool_workqueue_depth Depth.\n"
                              "# TYPE azpool_workqueue_depth gauge\n"
                              "azpool_workqueue_depth 3\n"
                              "# HELP azpool_reconcile_duration_seconds Durations.\n"
                              "# TYPE azpool_reconcile_duration_seconds histogram\n"
                              "azpool_reconcile_duration_seconds_bucket{le=\"0.1\"} 1\n"
                              "azpool_reconcile_duration_seconds_bucket{le=\"1\"} 2\n"
                              "azpool_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3\n"
                              "azpool_reconcile_duration_seconds_sum 7.8\n"
                              "azpool_reconcile_duration_seconds_count 3\n");
    free(text);
    metrics_free(m);
    metrics_free(NULL);
}

/* Label values are escaped; clearing a state family drops its series. */
static void test_escape_and_clear(void **state)
{
    static const char *const l[] = {"pool", NULL};
    struct metrics *m = metrics_new();
    struct metric_family *f = metrics_define(m, "x", METRIC_GAUGE, "h", l, NULL, 0);
    char *text;

    (void)state;
    metrics_set(f, (const char *const[]){"a\"b\\c\nd"}, 1);
    text = metrics_render(m, NULL);
    assert_non_null(strstr(text, "x{pool=\"a\\\"b\\\\c\\nd\"} 1\n"));
    free(text);
    assert_int_equal(metrics_value(f, (const char *const[]){"a\"b\\c\nd"}), 1);
    metrics_clear(f);
    assert_int_equal(metrics_value(f, (const char *const[]){"a\"b\\c\nd"}), 0);
    text = metrics_render(m, NULL);
    assert_null(strstr(text, "x{"));
    free(text);
    metrics_free(m);
}

/* A label explosion stops at METRICS_SERIES_MAX and is counted. */
static void test_series_limit(void **state)
{
    static const char *const l[] = {"id", NULL};
    struct metrics *m = metrics_new();
    struct metric_family *f = metrics_define(m, "c", METRIC_COUNTER, "h", l, NULL, 0);
    char id[32];
    char *text;

    (void)state;
    for (int i = 0; i < METRICS_SERIES_MAX + 5; i++) {
        snprintf(id, sizeof(id), "%d", i);
        metrics_add(f, (const char *const[]){id}, 1);
    }
    assert_int_equal(metrics_value(f, (const char *const[]){"0"}), 1);
    assert_int_equal(metrics_value(f, (const char *const[]){"10004"}), 0);
    text = metrics_render(m, NULL);
    assert_non_null(strstr(text, "azpool_metrics_dropped_series_total 5\n"));
    free(text);
    metrics_free(m);
}

/* Every metric name of DESIGN.md §10 is exposed, build_info is 1. */
static void test_design_names(void **state)
{
    static const char *const names[] = {
        "azpool_reconcile_total",
        "azpool_reconcile_duration_seconds",
        "azpool_arm_requests_total",
        "azpool_arm_ratelimit_remaining",
        "azpool_arm_throttled_seconds_total",
        "azpool_pool_replicas",
        "azpool_workqueue_depth",
        "azpool_actions_total",
        "azpool_build_info",
    };
    struct azpool_metrics am;
    char *text, line[128];

    (void)state;
    assert_int_equal(azpool_metrics_init(&am, "1.2.3"), 0);
    text = metrics_render(am.reg, NULL);
    assert_non_null(text);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(line, sizeof(line), "# TYPE %s ", names[i]);
        assert_non_null(strstr(text, line));
    }
    assert_non_null(strstr(text, "azpool_build_info{version=\"1.2.3\"} 1\n"));
    free(text);
    azpool_metrics_release(&am);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_escape_and_clear),
        cmocka_unit_test(test_series_limit),
        cmocka_unit_test(test_design_names),
    };
    return az_run_tests("metrics", tests);
}
