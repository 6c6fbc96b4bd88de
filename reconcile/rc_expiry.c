/*
 * rc_expiry.c - expiry times and maintenance windows (see rc_decide.h).
 *
 * Expiry: expires = created + maxAge - j, where j is in [0, maxAge * jitter% / 100]
 * and j = mix(rc_hash64(name)) % (jmax + 1) (mix = the splitmix64 finaliser, so
 * names that differ in one character spread evenly). The jitter is read as a
 * percentage whether or not it was written with '%', clamped to 0..100. No
 * expiry (0) when ep is NULL, maxAge <= 0 or the creation time is unknown
 * (created_ms <= 0): an instance of unknown age is never replaced for age.
 *
 * Windows: a window (cron start, duration, zone) is open at t when some start s
 * has s <= t < s + duration. The zone offset is taken at t (rc_tz_offset) and,
 * when the offset at the candidate start differs (a DST change in between), the
 * search is repeated once with the offset of the start. Starts are looked for
 * at most 366 days back and ahead. A window with duration <= 0 never opens.
 */
#include "rc_decide.h"

#include <stdio.h>

#define SEARCH_MS (366LL * 86400000LL)

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int64_t rc_expiry_at(const struct rc_expiry_spec *ep, const char *name, int64_t created_ms)
{
    int64_t pct = 0, jmax, j = 0;

    if (!ep || ep->max_age_ms <= 0 || created_ms <= 0)
        return 0;
    if (ep->jitter.set)
        pct = ep->jitter.value < 0 ? 0 : ep->jitter.value > 100 ? 100 : ep->jitter.value;
    jmax = ep->max_age_ms / 100 * pct + ep->max_age_ms % 100 * pct / 100;
    if (jmax > 0)
        j = (int64_t)(mix64(rc_hash64_str(name)) % (uint64_t)(jmax + 1));
    return created_ms + ep->max_age_ms - j;
}

int64_t rc_expiry_force_at(const struct rc_expiry_spec *ep, int64_t created_ms)
{
    if (!ep || ep->force_after_ms <= 0 || created_ms <= 0)
        return 0;
    return created_ms + ep->force_after_ms;
}

/* The start of the latest opening of w that covers now, or -RC_ENOTFOUND. */
static int window_open_start(const struct rc_window *w, const struct rc_policy *pol, int32_t off,
                             int64_t now_ms, int64_t *ret_s)
{
    int64_t lookback = w->duration_ms < SEARCH_MS ? w->duration_ms : SEARCH_MS;
    int64_t s;
    int32_t off2;

    if (rc_cron_prev(&w->cron, now_ms, off, now_ms - lookback + 1, &s) < 0)
        return -RC_ENOTFOUND;
    if (rc_tz_offset(pol, w->time_zone, s, &off2) == 0 && off2 != off) {
        int64_t s2;
        int32_t off3;

        if (rc_cron_prev(&w->cron, now_ms, off2, now_ms - lookback + 1, &s2) == 0 &&
            rc_tz_offset(pol, w->time_zone, s2, &off3) == 0 && off3 == off2)
            s = s2;
    }
    *ret_s = s;
    return 0;
}

static int window_next_start(const struct rc_window *w, const struct rc_policy *pol, int32_t off,
                             int64_t now_ms, int64_t *ret_s)
{
    int64_t s;
    int32_t off2;

    if (rc_cron_next(&w->cron, now_ms, off, &s) < 0 || s - now_ms > SEARCH_MS)
        return -RC_ENOTFOUND;
    if (rc_tz_offset(pol, w->time_zone, s, &off2) == 0 && off2 != off) {
        int64_t s2;
        int32_t off3;

        if (rc_cron_next(&w->cron, now_ms, off2, &s2) == 0 && s2 - now_ms <= SEARCH_MS &&
            rc_tz_offset(pol, w->time_zone, s2, &off3) == 0 && off3 == off2)
            s = s2;
    }
    *ret_s = s;
    return 0;
}

int rc_window_state(const struct rc_expiry_spec *ep, const struct rc_policy *pol, int64_t now_ms,
                    bool *ret_open, int64_t *ret_end_ms, int64_t *ret_next_ms, struct rc_err *err)
{
    bool open = false;
    int64_t end = 0, next = 0;

    *ret_open = true;
    *ret_end_ms = 0;
    *ret_next_ms = 0;
    if (!ep || ep->n_windows == 0)
        return 0;
    for (size_t i = 0; i < ep->n_windows; i++) {
        const struct rc_window *w = &ep->windows[i];
        int64_t s;
        int32_t off;

        if (rc_tz_offset(pol, w->time_zone, now_ms, &off) < 0) {
            char path[64];

            snprintf(path, sizeof(path), "spec.maintenanceWindows[%zu].timeZone", i);
            return rc_err_set(err, -RC_ENOTFOUND, path, "unknown time zone \"%.64s\"",
                              w->time_zone);
        }
        if (w->duration_ms <= 0)
            continue;
        if (window_open_start(w, pol, off, now_ms, &s) == 0) {
            open = true;
            if (s + w->duration_ms > end)
                end = s + w->duration_ms;
        } else if (window_next_start(w, pol, off, now_ms, &s) == 0) {
            if (next == 0 || s < next)
                next = s;
        }
    }
    *ret_open = open;
    *ret_end_ms = open ? end : 0;
    *ret_next_ms = open ? 0 : next;
    return 0;
}
