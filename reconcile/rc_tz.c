/*
 * rc_tz.c - policy defaults and time-zone offsets (see rc_plan.h).
 *
 * Zone names compare case-insensitively. "UTC", "Etc/UTC", "Z" and NULL are
 * offset 0 without an entry. A zone's table is a list of transitions: the
 * offset of the last entry at or before t applies; before the first entry the
 * first entry's offset applies; an empty table means offset 0.
 */
#include "rc_plan.h"

#include <string.h>

void rc_policy_init(struct rc_policy *pol)
{
    memset(pol, 0, sizeof(*pol));
    pol->collect_orphans = false;
    pol->max_deletions = 1;
    pol->allow_mass_delete = false;
}

int rc_tz_offset(const struct rc_policy *pol, const char *name, int64_t t_ms, int32_t *ret_s)
{
    *ret_s = 0;
    if (!name || !*name || rc_strcasecmp(name, "UTC") == 0 || rc_strcasecmp(name, "Etc/UTC") == 0 ||
        rc_strcasecmp(name, "Z") == 0)
        return 0;
    if (!pol)
        return -RC_ENOTFOUND;
    for (size_t i = 0; i < pol->n_zones; i++) {
        const struct rc_tz *z = &pol->zones[i];
        size_t lo = 0, hi;

        if (!z->name || rc_strcasecmp(z->name, name) != 0)
            continue;
        if (z->n == 0)
            return 0;
        /* last entry with at_ms <= t (binary search), else the first */
        hi = z->n;
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;

            if (z->at_ms[mid] <= t_ms)
                lo = mid;
            else
                hi = mid;
        }
        *ret_s = z->offset_s[lo];
        return 0;
    }
    return -RC_ENOTFOUND;
}
