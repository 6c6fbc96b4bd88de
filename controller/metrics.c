/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    char *labels;   /* rendered: name="value",... (escaped), "" when none */
    double value;   /* counter / gauge; histogram: sum */
    double *counts; /* histogram: per bucket (cumulative at render), then +Inf */
    double count;
};

struct metric_family {
    struct metrics *m;
    char *name, *help;
    enum metric_type type;
    char *labels[METRICS_LABELS_MAX];
    size_t n_labels;
    double *buckets;
    size_t n_buckets;
    struct series *series;
    size_t n_series, cap_series;
};

struct metrics {
    struct metric_family **fams;
    size_t n;
    struct metric_family *dropped;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->dropped =
        metrics_define(m, "azpool_metrics_dropped_series_total", METRIC_COUNTER,
                       "Series not recorded because a family reached its limit.", NULL, NULL, 0);
    if (!m->dropped) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

static void series_release(struct series *s)
{
    free(s->labels);
    free(s->counts);
}

static void family_free(struct metric_family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_series; i++)
        series_release(&f->series[i]);
    free(f->series);
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->buckets);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->fams[i]);
    free(m->fams);
    free(m);
}

struct metric_family *metrics_define(struct metrics *m, const char *name, enum metric_type type,
                                     const char *help, const char *const *labels,
                                     const double *buckets, size_t n_buckets)
{
    struct metric_family *f, **v;

    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->fams[i]->name, name) == 0)
            return NULL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->m = m;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help);
    if (!f->name || !f->help)
        goto fail;
    for (; labels && labels[f->n_labels]; f->n_labels++) {
        if (f->n_labels == METRICS_LABELS_MAX)
            goto fail;
        f->labels[f->n_labels] = strdup(labels[f->n_labels]);
        if (!f->labels[f->n_labels])
            goto fail;
    }
    if (type == METRIC_HISTOGRAM) {
        f->buckets = malloc((n_buckets ? n_buckets : 1) * sizeof(double));
        if (!f->buckets)
            goto fail;
        memcpy(f->buckets, buckets, n_buckets * sizeof(double));
        f->n_buckets = n_buckets;
    }
    v = realloc(m->fams, (m->n + 1) * sizeof(*v));
    if (!v)
        goto fail;
    m->fams = v;
    m->fams[m->n++] = f;
    return f;
fail:
    family_free(f);
    return NULL;
}

/* Renders label pairs with escaping into a new string. */
static char *render_labels(const struct metric_family *f, const char *const *values)
{
    size_t cap = 1, len = 0;
    char *out;

    for (size_t i = 0; i < f->n_labels; i++)
        cap += strlen(f->labels[i]) + 2 * strlen(values && values[i] ? values[i] : "") + 5;
    out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < f->n_labels; i++) {
        const char *v = values && values[i] ? values[i] : "";

        len += (size_t)snprintf(out + len, cap - len, "%s%s=\"", i ? "," : "", f->labels[i]);
        for (; *v; v++) {
            if (*v == '\\' || *v == '"') {
                out[len++] = '\\';
                out[len++] = *v;
            } else if (*v == '\n') {
                out[len++] = '\\';
                out[len++] = 'n';
            } else {
                out[len++] = *v;
            }
        }
        out[len++] = '"';
    }
    out[len] = '\0';
    return out;
}

static struct series *find(const struct metric_family *f, const char *labels)
{
    for (size_t i = 0; i < f->n_series; i++)
        if (strcmp(f->series[i].labels, labels) == 0)
            return &f->series[i];
    return NULL;
}

static struct series *get(struct metric_family *f, const char *const *values)
{
    char *labels = render_labels(f, values);
    struct series *s;

    if (!labels)
        return NULL;
    s = find(f, labels);
    if (s) {
        free(labels);
        return s;
    }
    if (f->n_series >= METRICS_SERIES_MAX) {
        free(labels);
        if (f != f->m->dropped)
            metrics_add(f->m->dropped, NULL, 1);
        return NULL;
    }
    if (f->n_series == f->cap_series) {
        size_t cap = f->cap_series ? f->cap_series * 2 : 8;
        struct series *v = realloc(f->series, cap * sizeof(*v));

        if (!v) {
            free(labels);
            return NULL;
        }
        f->series = v;
        f->cap_series = cap;
    }
    s = &f->series[f->n_series];
    memset(s, 0, sizeof(*s));
    s->labels = labels;
    if (f->type == METRIC_HISTOGRAM) {
        s->counts = calloc(f->n_buckets + 1, sizeof(double));
        if (!s->counts) {
            free(labels);
            return NULL;
        }
    }
    f->n_series++;
    return s;
}

void metrics_add(struct metric_family *f, const char *const *values, double delta)
{
    struct series *s;

    if (!f || delta < 0)
        return;
    s = get(f, values);
    if (s)
        s->value += delta;
}

void metrics_set(struct metric_family *f, const char *const *values, double value)
{
    struct series *s = f ? get(f, values) : NULL;

    if (s)
        s->value = value;
}

void metrics_observe(struct metric_family *f, const char *const *values, double value)
{
    struct series *s = f && f->type == METRIC_HISTOGRAM ? get(f, values) : NULL;
    size_t i;

    if (!s)
        return;
    for (i = 0; i < f->n_buckets && value > f->buckets[i]; i++)
        ;
    s->counts[i]++;
    s->value += value;
    s->count++;
}

void metrics_clear(struct metric_family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_series; i++)
        series_release(&f->series[i]);
    f->n_series = 0;
}

double metrics_value(const struct metric_family *f, const char *const *values)
{
    char *labels = render_labels(f, values);
    const struct series *s = labels ? find(f, labels) : NULL;

    free(labels);
    if (!s)
        return 0;
    return f->type == METRIC_HISTOGRAM ? s->count : s->value;
}

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t cap = b->cap * 2 + (size_t)n;
            char *p = realloc(b->p, cap);

            if (!p) {
                b->oom = true;
                return;
            }
            b->p = p;
            b->cap = cap;
        }
    }
}

static void put_num(struct buf *b, double v)
{
    if (isinf(v))
        put(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        put(b, "%.0f", v);
    else
        put(b, "%.9g", v);
}

static const char *type_name(enum metric_type t)
{
    return t == METRIC_COUNTER ? "counter" : t == METRIC_GAUGE ? "gauge" : "histogram";
}

static void render_family(struct buf *b, const struct metric_family *f)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type_name(f->type));
    if (f->type != METRIC_HISTOGRAM && f->n_labels == 0 && f->n_series == 0) {
        put(b, "%s 0\n", f->name); /* a counter without labels exists from the start */
        return;
    }
    for (size_t i = 0; i < f->n_series; i++) {
        const struct series *s = &f->series[i];
        const char *sep = s->labels[0] ? "," : "";
        double cum = 0;

        if (f->type != METRIC_HISTOGRAM) {
            put(b, s->labels[0] ? "%s{%s} " : "%s%s ", f->name, s->labels);
            put_num(b, s->value);
            put(b, "\n");
            continue;
        }
        for (size_t k = 0; k <= f->n_buckets; k++) {
            cum += s->counts[k];
            put(b, "%s_bucket{%s%sle=\"", f->name, s->labels, sep);
            put_num(b, k < f->n_buckets ? f->buckets[k] : INFINITY);
            put(b, "\"} ");
            put_num(b, cum);
            put(b, "\n");
        }
        put(b, s->labels[0] ? "%s_sum{%s} " : "%s_sum%s ", f->name, s->labels);
        put_num(b, s->value);
        put(b, s->labels[0] ? "\n%s_count{%s} " : "\n%s_count%s ", f->name, s->labels);
        put_num(b, s->count);
        put(b, "\n");
    }
}

char *metrics_render(const struct metrics *m, size_t *ret_len)
{
    struct buf b = {0};

    b.cap = 4096;
    b.p = malloc(b.cap);
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    for (size_t i = 0; i < m->n; i++)
        render_family(&b, m->fams[i]);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (ret_len)
        *ret_len = b.len;
    return b.p;
}

int azpool_metrics_init(struct azpool_metrics *am, const char *version)
{
    static const double dur[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5,   1,     2.5,  5,     10,   30,  60};
    static const char *const kind_result[] = {"kind", "result", NULL};
    static const char *const method_code[] = {"method", "code", NULL};
    static const char *const bucket[] = {"bucket", NULL};
    static const char *const pool_state[] = {"namespace", "pool", "state", NULL};
    static const char *const verb_result[] = {"verb", "result", NULL};
    static const char *const ver[] = {"version", NULL};
    const char *v[1] = {version};

    memset(am, 0, sizeof(*am));
    am->reg = metrics_new();
    if (!am->reg)
        return -1;
    am->reconcile_total = metrics_define(am->reg, "azpool_reconcile_total", METRIC_COUNTER,
                                         "Reconciles by kind and result.", kind_result, NULL, 0);
    am->reconcile_duration =
        metrics_define(am->reg, "azpool_reconcile_duration_seconds", METRIC_HISTOGRAM,
                       "Time from reconcile start to its end (plan executed).", NULL, dur,
                       sizeof(dur) / sizeof(dur[0]));
    am->arm_requests_total = metrics_define(
        am->reg, "azpool_arm_requests_total", METRIC_COUNTER,
        "ARM requests sent, by method and HTTP status (0: no response).", method_code, NULL, 0);
    am->arm_ratelimit_remaining = metrics_define(
        am->reg, "azpool_arm_ratelimit_remaining", METRIC_GAUGE,
        "Last x-ms-ratelimit-remaining-subscription-* value per bucket.", bucket, NULL, 0);
    am->arm_throttled_seconds =
        metrics_define(am->reg, "azpool_arm_throttled_seconds_total", METRIC_COUNTER,
                       "Seconds ARM buckets were paused after 429 responses.", NULL, NULL, 0);
    am->pool_replicas = metrics_define(am->reg, "azpool_pool_replicas", METRIC_GAUGE,
                                       "Instances of a pool by state.", pool_state, NULL, 0);
    am->workqueue_depth = metrics_define(am->reg, "azpool_workqueue_depth", METRIC_GAUGE,
                                         "Keys waiting in the work queue.", NULL, NULL, 0);
    am->actions_total =
        metrics_define(am->reg, "azpool_actions_total", METRIC_COUNTER,
                       "Plan actions executed, by verb and result.", verb_result, NULL, 0);
    am->build_info = metrics_define(am->reg, "azpool_build_info", METRIC_GAUGE,
                                    "Build information (always 1).", ver, NULL, 0);
    if (!am->reconcile_total || !am->reconcile_duration || !am->arm_requests_total ||
        !am->arm_ratelimit_remaining || !am->arm_throttled_seconds || !am->pool_replicas ||
        !am->workqueue_depth || !am->actions_total || !am->build_info) {
        azpool_metrics_release(am);
        return -1;
    }
    metrics_set(am->build_info, v, 1);
    return 0;
}

void azpool_metrics_release(struct azpool_metrics *am)
{
    metrics_free(am->reg);
    memset(am, 0, sizeof(*am));
}
