/*
 * ctl_tz.h - time-zone offsets for the core, read from the system's tzdata.
 *
 * The core never reads files or clocks, so the controller resolves the zones
 * that ExpiryPolicy maintenance windows name ("Europe/Berlin") into tables of
 * (transition time, UTC offset) and hands them to rc_plan through struct
 * rc_policy.zones. Source: TZif v2+ files under /usr/share/zoneinfo (or
 * $TZDIR). Debian ships "fat" files with transitions up to 2037; after the last
 * transition the last offset holds (documented limitation).
 *
 * Ownership: a struct ctl_zones owns its names and tables; the rc_tz entries
 * point into them and stay valid until ctl_zones_release().
 */
#ifndef AZPOOL_CTL_TZ_H
#define AZPOOL_CTL_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "rc_err.h"
#include "rc_model.h"
#include "rc_plan.h"

struct ctl_zones {
    struct rc_tz *zones;
    size_t n;
};

/* Loads one zone. name must be a tz database name ([A-Za-z0-9_+-/], no ".."). */
int ctl_tz_load(const char *dir, const char *name, struct rc_tz *ret, struct rc_err *err);
void ctl_tz_release(struct rc_tz *tz);

/* Loads every zone named by the maintenance windows in want (each once).
 * Unknown zones are appended to errs (with the policy's file position) and
 * left out; the planner then reports them per pool. */
int ctl_zones_load(const struct rc_desired *want, struct ctl_zones *ret, struct rc_errs *errs);
void ctl_zones_release(struct ctl_zones *z);

#endif
