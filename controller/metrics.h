/*
 * metrics.h - Prometheus metrics of DESIGN.md §10, rendered in the text
 * exposition format (version 0.0.4) for /metrics.
 *
 * A family is defined once (name, type, help, label names); series are
 * addressed by their label values in definition order. Counters only go up;
 * gauges are set; histograms observe into fixed buckets (le) with _sum and
 * _count. Families that describe current state (pool replicas by state) are
 * cleared and refilled each time the controller publishes that state.
 *
 * Limits: METRICS_SERIES_MAX series per family; past it new series are
 * dropped and counted in azpool_metrics_dropped_series_total, so a label
 * explosion can never exhaust memory. Label values are escaped (\\, \", \n).
 *
 * Secrets never become labels: label values are pool names, verbs, HTTP
 * methods and codes, bucket names.
 *
 * Series lookup is a linear scan per family: fine for the few thousand series
 * a controller of 1,000 pools has (pool replicas are refilled per publish).
 *
 * Not thread-safe: the loop thread only.
 */
#ifndef AZPOOL_METRICS_H
#define AZPOOL_METRICS_H

#include <stddef.h>

enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRICS_SERIES_MAX 10000
#define METRICS_LABELS_MAX 4

struct metrics;
struct metric_family;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m); /* NULL is fine */

/* Defines a family; labels is a NULL-terminated list (at most
 * METRICS_LABELS_MAX). Histograms take n_buckets upper bounds (ascending).
 * Returns the family, or NULL on allocation failure / a duplicate name. */
struct metric_family *metrics_define(struct metrics *m, const char *name, enum metric_type type,
                                     const char *help, const char *const *labels,
                                     const double *buckets, size_t n_buckets);

/* values: one per label of the family, in order (may be NULL for none). */
void metrics_add(struct metric_family *f, const char *const *values, double delta); /* counter */
void metrics_set(struct metric_family *f, const char *const *values, double value); /* gauge */
void metrics_observe(struct metric_family *f, const char *const *values, double value);
/* Removes every series of the family (state gauges are refilled afterwards). */
void metrics_clear(struct metric_family *f);
/* The current value of a counter/gauge series, or the count of a histogram
 * series; 0 when the series does not exist. */
double metrics_value(const struct metric_family *f, const char *const *values);

/* The exposition text; new string (caller frees), NULL on allocation failure. */
char *metrics_render(const struct metrics *m, size_t *ret_len);

/* The families of DESIGN.md §10, defined on a new registry. */
struct azpool_metrics {
    struct metrics *reg;
    struct metric_family *reconcile_total;         /* {kind,result} */
    struct metric_family *reconcile_duration;      /* histogram, seconds */
    struct metric_family *arm_requests_total;      /* {method,code} */
    struct metric_family *arm_ratelimit_remaining; /* {bucket} */
    struct metric_family *arm_throttled_seconds;   /* counter */
    struct metric_family *pool_replicas;           /* {namespace,pool,state} */
    struct metric_family *workqueue_depth;         /* gauge */
    struct metric_family *actions_total;           /* {verb,result} */
    struct metric_family *build_info;              /* {version} = 1 */
};

int azpool_metrics_init(struct azpool_metrics *am, const char *version);
void azpool_metrics_release(struct azpool_metrics *am);

#endif
