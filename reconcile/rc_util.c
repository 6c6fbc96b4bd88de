/*
 * rc_util.c - bounded strings, int-or-percent values and Go durations (see rc_util.h).
 *
 * Decisions recorded here:
 * - Durations are computed in nanoseconds and truncated to milliseconds at the
 *   end, so "1.5ms" is 1 ms and "999us" is 0 ms. The limit "100 years" is
 *   100 * 365 days (876000h); a leading '+' is accepted like Go does.
 * - rc_intstr_parse accepts surrounding nothing: no spaces, no sign; "25%" must
 *   be 0..100, a plain integer 0..1,000,000.
 */
#include "rc_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bounded string helpers ---- */

size_t rc_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size > 0) {
        size_t c = n < size - 1 ? n : size - 1;

        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int rc_strcasecmp(const char *a, const char *b)
{
    if (a == b)
        return 0;
    if (!a)
        return -1;
    if (!b)
        return 1;
    for (;; a++, b++) {
        int x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);

        if (x != y || x == 0)
            return x - y;
    }
}

char *rc_strdup(const char *s)
{
    size_t n;
    char *d;

    if (!s)
        return NULL;
    n = strlen(s);
    d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n + 1);
    return d;
}

/* ---- int or percent ---- */

#define INTSTR_MAX 1000000

int rc_intstr_parse(const char *s, struct rc_intstr *ret, struct rc_err *err)
{
    long v = 0;
    const char *p = s;

    memset(ret, 0, sizeof(*ret));
    if (!s || !*s)
        return rc_err_set(err, -RC_EINVAL, NULL,
                          "must be an integer or a percentage such as \"25%%\", got \"\"");
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > INTSTR_MAX)
            return rc_err_set(err, -RC_EINVAL, NULL, "value \"%.40s\" is too large", s);
        p++;
    }
    if (p == s || (*p && !(p[0] == '%' && p[1] == '\0')))
        return rc_err_set(err, -RC_EINVAL, NULL,
                          "must be an integer or a percentage such as \"25%%\", got \"%.40s\"", s);
    if (*p == '%') {
        if (v > 100)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "percentage must be between 0%% and 100%%, got \"%.40s\"", s);
        ret->is_percent = true;
    }
    ret->set = true;
    ret->value = (int)v;
    return 0;
}

int rc_intstr_resolve(const struct rc_intstr *v, int total, bool round_up)
{
    long long p;

    if (!v || !v->set)
        return 0;
    if (!v->is_percent)
        return v->value;
    if (total <= 0)
        return 0;
    p = (long long)total * v->value;
    return (int)(round_up ? (p + 99) / 100 : p / 100);
}

int rc_intstr_format(const struct rc_intstr *v, char *buf, size_t size)
{
    if (!v->set)
        return snprintf(buf, size, "%s", "");
    return snprintf(buf, size, v->is_percent ? "%d%%" : "%d", v->value);
}

/* ---- durations ---- */

#define NS_PER_MS       1000000LL
#define DURATION_MAX_NS (100LL * 365 * 24 * 3600 * 1000000000LL)

struct dur_unit {
    const char *name;
    long long ns;
};

static const struct dur_unit dur_units[] = {
    {"ns", 1LL},
    {"us", 1000LL},
    {"\xc2\xb5s", 1000LL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000LL}, /* U+03BC Greek mu */
    {"ms", 1000000LL},
    {"s", 1000000000LL},
    {"m", 60LL * 1000000000LL},
    {"h", 3600LL * 1000000000LL},
};

int rc_duration_parse(const char *s, int64_t *ret_ms, struct rc_err *err)
{
    const char *p = s;
    long long total = 0;

    *ret_ms = 0;
    if (!s || !*s)
        return rc_err_set(err, -RC_EINVAL, NULL,
                          "must be a duration such as \"90s\" or \"1h30m\", got \"\"");
    if (strlen(s) > 64)
        return rc_err_set(err, -RC_EINVAL, NULL, "duration is too long");
    if (*p == '-')
        return rc_err_set(err, -RC_EINVAL, NULL, "duration must not be negative, got \"%s\"", s);
    if (*p == '+')
        p++;
    if (strcmp(p, "0") == 0)
        return 0;
    if (!*p)
        return rc_err_set(err, -RC_EINVAL, NULL, "invalid duration \"%s\"", s);
    while (*p) {
        long long whole = 0;
        double frac = 0, scale = 1;
        bool digits = false;
        const struct dur_unit *u = NULL;
        size_t i, ulen = 0;

        while (*p >= '0' && *p <= '9') {
            if (whole > (DURATION_MAX_NS - (*p - '0')) / 10)
                return rc_err_set(err, -RC_EINVAL, NULL, "duration \"%s\" is out of range", s);
            whole = whole * 10 + (*p - '0');
            digits = true;
            p++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale < 1e18) {
                    frac = frac * 10 + (*p - '0');
                    scale *= 10;
                }
                digits = true;
                p++;
            }
        }
        if (!digits)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "invalid duration \"%s\" (expected a number such as \"90s\")", s);
        for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
            size_t n = strlen(dur_units[i].name);

            if (n > ulen && strncmp(p, dur_units[i].name, n) == 0) {
                u = &dur_units[i];
                ulen = n;
            }
        }
        if (!u)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "missing or unknown unit in duration \"%s\" (ns, us, ms, s, m, h)",
                              s);
        p += ulen;
        if (whole > DURATION_MAX_NS / u->ns)
            return rc_err_set(err, -RC_EINVAL, NULL, "duration \"%s\" is out of range", s);
        total += whole * u->ns;
        total += (long long)(frac * ((double)u->ns / scale));
        if (total > DURATION_MAX_NS)
            return rc_err_set(err, -RC_EINVAL, NULL,
                              "duration \"%s\" is out of range (at most 100 years)", s);
    }
    *ret_ms = total / NS_PER_MS;
    return 0;
}

int rc_duration_format(int64_t ms, char *buf, size_t size)
{
    const char *sign = "";
    uint64_t u, h, m, sec, frac;
    char fs[8] = "";

    if (ms < 0) {
        sign = "-";
        u = (uint64_t)0 - (uint64_t)ms;
    } else {
        u = (uint64_t)ms;
    }
    if (u == 0)
        return snprintf(buf, size, "0s");
    if (u < 1000)
        return snprintf(buf, size, "%s%llums", sign, (unsigned long long)u);
    h = u / 3600000;
    m = u / 60000 % 60;
    sec = u / 1000 % 60;
    frac = u % 1000;
    if (frac) {
        int n = snprintf(fs, sizeof(fs), ".%03llu", (unsigned long long)frac);

        while (n > 1 && fs[n - 1] == '0')
            fs[--n] = '\0';
    }
    if (h)
        return snprintf(buf, size, "%s%lluh%llum%llu%ss", sign, (unsigned long long)h,
                        (unsigned long long)m, (unsigned long long)sec, fs);
    if (m)
        return snprintf(buf, size, "%s%llum%llu%ss", sign, (unsigned long long)m,
                        (unsigned long long)sec, fs);
    return snprintf(buf, size, "%s%llu%ss", sign, (unsigned long long)sec, fs);
}
