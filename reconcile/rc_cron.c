/*
 * rc_cron.c - 5-field cron schedules (see rc_util.h).
 *
 * Syntax (Vixie cron): each field is a comma list of "*", "N", "N-M", with an
 * optional "/STEP"; "N/STEP" means "N-max/STEP". Month names jan..dec and
 * weekday names sun..sat are accepted in any case, also inside ranges
 * ("mon-fri"); weekday 7 is Sunday. The macros @yearly, @annually, @monthly,
 * @weekly, @daily, @midnight and @hourly are accepted. Whitespace separates the
 * fields. Day-of-month and day-of-week: when both fields are restricted (do not
 * start with "*") a day matches when either matches, otherwise both must match.
 *
 * Times are searched in local minutes (UTC + offset_s); the search goes day by
 * day, so rc_cron_next and rc_cron_prev cost at most ~366 * 24 * 60 cheap checks.
 */
#include "rc_util.h"

#include <string.h>

#define CRON_EXPR_MAX 256
#define MINUTE_MS     60000LL
#define DAY_MS        86400000LL
#define SEARCH_DAYS   366

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct cron_field {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value names_base + i */
    int n_names, names_base;
};

static const struct cron_field fields[5] = {
    {"minute", 0, 59, NULL, 0, 0},           {"hour", 0, 23, NULL, 0, 0},
    {"day of month", 1, 31, NULL, 0, 0},     {"month", 1, 12, month_names, 12, 1},
    {"day of week", 0, 7, wday_names, 7, 0},
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Reads a number or a name; advances *p. */
static bool cron_value(const struct cron_field *f, const char **p, int *ret)
{
    const char *s = *p;
    int v = 0, n = 0;

    if (*s >= '0' && *s <= '9') {
        while (*s >= '0' && *s <= '9' && n < 3) {
            v = v * 10 + (*s - '0');
            s++;
            n++;
        }
        if (*s >= '0' && *s <= '9')
            return false;
        *p = s;
        *ret = v;
        return true;
    }
    for (int i = 0; i < f->n_names; i++) {
        if (lower(s[0]) == f->names[i][0] && lower(s[1]) == f->names[i][1] &&
            lower(s[2]) == f->names[i][2]) {
            *p = s + 3;
            *ret = f->names_base + i;
            return true;
        }
    }
    return false;
}

static int cron_field_parse(const struct cron_field *f, const char *s, size_t len,
                            uint64_t *ret_bits, struct rc_err *err)
{
    char buf[CRON_EXPR_MAX];
    const char *p;
    uint64_t bits = 0;

    if (len == 0 || len >= sizeof(buf))
        return rc_err_set(err, -RC_EINVAL, NULL, "invalid %s field", f->name);
    memcpy(buf, s, len);
    buf[len] = '\0';
    p = buf;
    for (;;) {
        int lo, hi, step = 1;

        if (*p == '*') {
            lo = f->lo;
            hi = f->hi == 7 ? 6 : f->hi;
            p++;
        } else {
            if (!cron_value(f, &p, &lo))
                goto bad;
            hi = lo;
            if (*p == '-') {
                p++;
                if (!cron_value(f, &p, &hi))
                    goto bad;
            } else if (*p == '/') {
                hi = f->hi == 7 ? 6 : f->hi;
            }
        }
        if (*p == '/') {
            p++;
            if (!cron_value(&fields[0], &p, &step) || step < 1)
                goto bad;
        }
        if (*p != ',' && *p != '\0')
            goto bad;
        if (lo < f->lo || hi > f->hi || lo > hi)
            return rc_err_set(err, -RC_EINVAL, NULL, "%s: value out of range %d-%d in \"%s\"",
                              f->name, f->lo, f->hi, buf);
        for (int v = lo; v <= hi; v += step)
            bits |= (uint64_t)1 << (f->hi == 7 && v == 7 ? 0 : v);
        if (*p == '\0')
            break;
        p++;
    }
    *ret_bits = bits;
    return 0;
bad:
    return rc_err_set(err, -RC_EINVAL, NULL, "invalid %s field \"%s\"", f->name, buf);
}

static const struct {
    const char *name, *expr;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

int rc_cron_parse(const char *expr, struct rc_cron *ret, struct rc_err *err)
{
    const char *p = expr, *start[5];
    size_t len[5];
    uint64_t bits[5];
    int n = 0, r;

    memset(ret, 0, sizeof(*ret));
    if (!expr || strlen(expr) >= CRON_EXPR_MAX)
        return rc_err_set(err, -RC_EINVAL, NULL, "invalid cron schedule");
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '@') {
        for (size_t i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]); i++) {
            size_t l = strlen(cron_macros[i].name);

            if (rc_strcasecmp(p, cron_macros[i].name) == 0 ||
                (strncmp(p, cron_macros[i].name, l) == 0 && (p[l] == ' ' || p[l] == '\t')))
                return rc_cron_parse(cron_macros[i].expr, ret, err);
        }
        return rc_err_set(err, -RC_EINVAL, NULL, "unknown cron macro \"%.40s\"", p);
    }
    while (*p) {
        if (n == 5)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "cron schedule must have 5 fields (minute hour day-of-month "
                              "month day-of-week), got more: \"%s\"",
                              expr);
        start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        len[n] = (size_t)(p - start[n]);
        n++;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    if (n != 5)
        return rc_err_set(err, -RC_EINVAL, NULL,
                          "cron schedule must have 5 fields (minute hour day-of-month month "
                          "day-of-week), got %d: \"%s\"",
                          n, expr);
    for (int i = 0; i < 5; i++) {
        r = cron_field_parse(&fields[i], start[i], len[i], &bits[i], err);
        if (r < 0)
            return r;
    }
    ret->minutes = bits[0];
    ret->hours = (uint32_t)bits[1];
    ret->mdays = (uint32_t)bits[2];
    ret->months = (uint16_t)bits[3];
    ret->wdays = (uint8_t)bits[4];
    ret->mday_star = start[2][0] == '*';
    ret->wday_star = start[4][0] == '*';
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Whether local day number `days` (since 1970-01-01) matches. */
static bool cron_day_match(const struct rc_cron *c, int64_t days)
{
    int64_t y;
    unsigned m, d;
    int wd = (int)((days % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    bool md, wm;

    rc_civil_from_days(days, &y, &m, &d);
    if (!(c->months & (1u << m)))
        return false;
    md = (c->mdays >> d) & 1u;
    wm = (c->wdays >> wd) & 1u;
    if (c->mday_star || c->wday_star)
        return md && wm;
    return md || wm;
}

bool rc_cron_match(const struct rc_cron *c, int64_t t_ms, int32_t offset_s)
{
    int64_t local = floor_div(t_ms + (int64_t)offset_s * 1000, MINUTE_MS);
    int64_t days = floor_div(local, 1440);
    int mod = (int)(local - days * 1440);

    if (!((c->hours >> (mod / 60)) & 1u) || !((c->minutes >> (mod % 60)) & 1u))
        return false;
    return cron_day_match(c, days);
}

/* First matching minute of the day at or after minute `from` (0..1439), -1 if none. */
static int day_first(const struct rc_cron *c, int from)
{
    for (int m = from; m < 1440; m++) {
        if (!((c->hours >> (m / 60)) & 1u)) {
            m = (m / 60) * 60 + 59;
            continue;
        }
        if ((c->minutes >> (m % 60)) & 1u)
            return m;
    }
    return -1;
}

/* Last matching minute of the day at or before minute `to`, -1 if none. */
static int day_last(const struct rc_cron *c, int to)
{
    for (int m = to; m >= 0; m--) {
        if (!((c->hours >> (m / 60)) & 1u)) {
            m = (m / 60) * 60;
            continue;
        }
        if ((c->minutes >> (m % 60)) & 1u)
            return m;
    }
    return -1;
}

int rc_cron_next(const struct rc_cron *c, int64_t from_ms, int32_t offset_s, int64_t *ret_ms)
{
    int64_t off = (int64_t)offset_s * 1000;
    int64_t local = floor_div(from_ms + off + MINUTE_MS - 1, MINUTE_MS); /* round up */
    int64_t day = floor_div(local, 1440);
    int from = (int)(local - day * 1440);

    for (int i = 0; i <= SEARCH_DAYS; i++, day++, from = 0) {
        int m;

        if (!cron_day_match(c, day))
            continue;
        m = day_first(c, from);
        if (m >= 0) {
            *ret_ms = (day * 1440 + m) * MINUTE_MS - off;
            return 0;
        }
    }
    return -RC_ENOTFOUND;
}

int rc_cron_prev(const struct rc_cron *c, int64_t at_ms, int32_t offset_s, int64_t not_before_ms,
                 int64_t *ret_ms)
{
    int64_t off = (int64_t)offset_s * 1000;
    int64_t local = floor_div(at_ms + off, MINUTE_MS); /* round down */
    int64_t day = floor_div(local, 1440);
    int to = (int)(local - day * 1440);

    for (int i = 0; i <= SEARCH_DAYS; i++, day--, to = 1439) {
        int m;

        if ((day + 1) * DAY_MS - off <= not_before_ms)
            break;
        if (!cron_day_match(c, day))
            continue;
        m = day_last(c, to);
        if (m >= 0) {
            int64_t t = (day * 1440 + m) * MINUTE_MS - off;

            if (t < not_before_ms)
                break;
            *ret_ms = t;
            return 0;
        }
    }
    return -RC_ENOTFOUND;
}
