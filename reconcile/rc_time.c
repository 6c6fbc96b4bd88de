/*
 * rc_time.c - RFC 3339 time and civil date arithmetic (see rc_util.h).
 *
 * Parsing accepts "T"/"t" or a space between date and time, "Z"/"z" or a
 * numeric offset "+HH:MM"/"-HH:MM", and a fraction of any length (digits past
 * the millisecond are truncated, like Azure's 7-digit fractions). Seconds are
 * 0..59 (leap seconds are refused, as Go does). Years 0000..9999.
 */
#include "rc_util.h"

#include <stdio.h>
#include <string.h>

/* Howard Hinnant's algorithms (public domain), proleptic Gregorian. */
int64_t rc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void rc_civil_from_days(int64_t days, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);

    *ret_y = yoe + era * 400 + (m <= 2);
    *ret_m = m;
    *ret_d = d;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *ret)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *ret = v;
    return true;
}

int rc_time_parse(const char *s, int64_t *ret_ms, struct rc_err *err)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, osign = 0;
    int64_t days, t;

    *ret_ms = 0;
    if (!s || strlen(s) > 64)
        goto bad;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        goto bad;
    if (*p != 'T' && *p != 't' && *p != ' ')
        goto bad;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        goto bad;
    if (*p == '.') {
        int n = 0;

        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            goto bad;
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        osign = *p == '-' ? -1 : 1;
        p++;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
            goto bad;
        if (oh > 23 || om > 59)
            goto bad;
    } else {
        goto bad;
    }
    if (*p)
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo) || h > 23 ||
        mi > 59 || sec > 59)
        goto bad;
    days = rc_days_from_civil(y, (unsigned)mo, (unsigned)d);
    t = ((days * 24 + h) * 60 + mi) * 60 + sec;
    t -= (int64_t)osign * (oh * 3600 + om * 60);
    *ret_ms = t * 1000 + ms;
    return 0;
bad:
    return rc_err_set(err, -RC_EINVAL, NULL,
                      "must be an RFC 3339 time such as \"2026-11-23T10:00:00Z\", got \"%.64s\"",
                      s ? s : "");
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void rc_time_format(int64_t ms, char *buf, size_t size)
{
    int64_t secs = floor_div(ms, 1000), days = floor_div(secs, 86400), y;
    int64_t sod = secs - days * 86400;
    int frac = (int)(ms - secs * 1000);
    unsigned m, d;

    rc_civil_from_days(days, &y, &m, &d);
    if (frac)
        snprintf(buf, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
    else
        snprintf(buf, size, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}
