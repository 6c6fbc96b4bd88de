/*
 * rc_decide.h - pure decisions the planner builds on: the autoscale size, the
 * expiry time of an instance and the state of maintenance windows.
 *
 * All inputs are borrowed; nothing here allocates. Times are ms since the
 * epoch (UTC); zone offsets come from struct rc_policy (rc_tz_offset).
 *
 * Rules (full text at the top of rc_autoscale.c and rc_expiry.c):
 *  - Bounds first: a size outside [min, max] is corrected at once (no cooldown).
 *  - Step (seed 003): signal >= scaleOutThreshold -> +scaleOutStep unless the
 *    last scale-out is younger than scaleOutCooldownSeconds; else signal <=
 *    scaleInThreshold -> -scaleInStep (never below busy) unless the last
 *    scale-in is younger than scaleInCooldownSeconds; else Steady. Each
 *    cooldown counts from the last scale in its own direction.
 *  - Proportional (seed 001): signal = pending jobs; needed = busy +
 *    ceil(signal / jobsPerReplica); desired = needed + ceil(needed *
 *    freeTargetPercentage / 100), clamped, never below busy; no cooldown.
 *  - Expiry: created + maxAge - j, j = mix(rc_hash64(name)) % (maxAge *
 *    jitter% / 100 + 1); 0 (never) when the creation time is unknown.
 *  - Windows: open at t when a cron start s (in the window's zone) has
 *    s <= t < s + duration; searched 366 days back and ahead.
 */
#ifndef AZPOOL_RC_DECIDE_H
#define AZPOOL_RC_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "rc_err.h"
#include "rc_model.h"
#include "rc_plan.h"

/* ---- autoscale (DESIGN.md §6: Step = seed 003, Proportional = seed 001) ---- */

struct rc_autoscale_in {
    int current;                                 /* instances that count (not Deleting) */
    int busy;                                    /* of which busy */
    bool has_signal;                             /* false: the signal could not be read this turn */
    int64_t signal;                              /* queue length / pending jobs */
    int64_t last_scale_out_ms, last_scale_in_ms; /* 0: never */
    int64_t now_ms;
};

struct rc_autoscale_out {
    int desired;        /* within [minReplicas, maxReplicas], never below busy when
                           scaling in (busy workers are not disrupted) */
    const char *reason; /* static PascalCase: ScaleOut, ScaleIn, Steady, Cooldown,
                           NoSignal, AtMinimum, AtMaximum */
    int64_t next_ms;    /* when a running cooldown ends, 0 when none */
};

/* Without a signal the current size is kept (clamped to min/max). */
int rc_autoscale_decide(const struct rc_autoscale *as, const struct rc_autoscale_in *in,
                        struct rc_autoscale_out *ret);

/* ---- expiry ---- */

/* When an instance expires: created + maxAge - jitter, where jitter is a
 * deterministic fraction (from rc_hash64 of name) of jitter% of maxAge, so
 * replacements of instances created together spread out. 0 when ep is NULL. */
int64_t rc_expiry_at(const struct rc_expiry_spec *ep, const char *name, int64_t created_ms);
/* created + forceAfter; 0 when ep is NULL or forceAfter is unset. */
int64_t rc_expiry_force_at(const struct rc_expiry_spec *ep, int64_t created_ms);

/* Maintenance windows at now. With no windows the window is always open
 * (*ret_open true, *ret_end_ms 0). Inside a window: *ret_open true and
 * *ret_end_ms when the latest-closing open window closes. Outside: *ret_open
 * false and *ret_next_ms when the next window opens (0 when none within 366
 * days). Returns -RC_ENOTFOUND (with err) when a window names an unknown zone. */
int rc_window_state(const struct rc_expiry_spec *ep, const struct rc_policy *pol, int64_t now_ms,
                    bool *ret_open, int64_t *ret_end_ms, int64_t *ret_next_ms, struct rc_err *err);

#endif
