/*
 * rc_autoscale.c - the autoscale decision (see rc_decide.h; DESIGN.md §6).
 *
 * Bounds: lo = minReplicas, hi = max(maxReplicas, minReplicas). Whatever the
 * policy, a size outside [lo, hi] is first brought back inside it, at once and
 * without cooldown (reason ScaleOut when below lo, ScaleIn when above hi; the
 * bounds win over the busy floor: the planner still never disrupts a busy
 * instance, it picks idle victims first and waits for the rest).
 * Without a signal (has_signal false) the current size is kept, clamped to the
 * bounds, with reason NoSignal.
 *
 * Step (seed 003, the StackGuardian function; its parameter names and defaults):
 *   signal >= scaleOutThreshold  -> scale out by scaleOutStep (up to hi), unless
 *       the last scale-out was less than scaleOutCooldownSeconds ago (Cooldown,
 *       next_ms = when it ends) or the pool is at hi (AtMaximum).
 *   else signal <= scaleInThreshold -> scale in by scaleInStep (down to lo and
 *       never below the number of busy instances), unless the last scale-in was
 *       less than scaleInCooldownSeconds ago (Cooldown) or the pool is at lo
 *       (AtMinimum). When every instance that could go is busy: Steady.
 *   else Steady.
 *   The two cooldowns are separate and each is measured from the last scale in
 *   its own direction (the seed keeps two timestamps, scale_out_timestamp and
 *   scale_in_timestamp). last_*_ms == 0 means never.
 *
 * Proportional (seed 001, the GitHub-runner scaler): the signal is the number
 * of pending jobs (not yet running), busy the instances running a job.
 *   needed  = busy + ceil(signal / jobsPerReplica)
 *   desired = needed + ceil(needed * freeTargetPercentage / 100)
 * i.e. keep freeTargetPercentage of the active workers free, clamped to
 * [lo, hi]; with minReplicas 0 and nothing to do it scales to zero. Scaling in
 * never goes below busy (within hi). The seed scales on every job event, so
 * this policy has no cooldown. Reasons: ScaleOut, ScaleIn, Steady, AtMaximum
 * (the formula wants more than hi), AtMinimum (it wants less than lo).
 */
#include "rc_decide.h"

#include <string.h>

#define DEMAND_MAX 1000000 /* caps signal-derived sizes against overflow */

static int clamp_int(int64_t v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)v;
}

static void decide_step(const struct rc_step_policy *sp, const struct rc_autoscale_in *in, int lo,
                        int hi, struct rc_autoscale_out *ret)
{
    int cur = ret->desired;

    if (in->signal >= sp->scale_out_threshold) {
        int64_t until = in->last_scale_out_ms + (int64_t)sp->scale_out_cooldown_seconds * 1000;

        if (cur >= hi) {
            ret->reason = "AtMaximum";
        } else if (in->last_scale_out_ms > 0 && in->now_ms < until) {
            ret->reason = "Cooldown";
            ret->next_ms = until;
        } else {
            ret->desired =
                clamp_int((int64_t)cur + (sp->scale_out_step > 0 ? sp->scale_out_step : 1), lo, hi);
            ret->reason = "ScaleOut";
        }
        return;
    }
    if (in->signal <= sp->scale_in_threshold) {
        int64_t until = in->last_scale_in_ms + (int64_t)sp->scale_in_cooldown_seconds * 1000;
        int target;

        if (cur <= lo) {
            ret->reason = "AtMinimum";
        } else if (in->last_scale_in_ms > 0 && in->now_ms < until) {
            ret->reason = "Cooldown";
            ret->next_ms = until;
        } else {
            target =
                clamp_int((int64_t)cur - (sp->scale_in_step > 0 ? sp->scale_in_step : 1), lo, hi);
            if (target < in->busy)
                target = in->busy < cur ? in->busy : cur;
            if (target < cur) {
                ret->desired = target;
                ret->reason = "ScaleIn";
            } else {
                ret->reason = "Steady";
            }
        }
        return;
    }
    ret->reason = "Steady";
}

static void decide_proportional(const struct rc_proportional_policy *pp,
                                const struct rc_autoscale_in *in, int lo, int hi,
                                struct rc_autoscale_out *ret)
{
    int64_t jpr = pp->jobs_per_replica > 0 ? pp->jobs_per_replica : 1;
    int64_t pct = pp->free_target_percentage > 0 ? pp->free_target_percentage : 0;
    int64_t pending = in->signal > 0 ? in->signal : 0;
    int64_t needed, want;
    int cur = ret->desired, target;

    if (pending > DEMAND_MAX)
        pending = DEMAND_MAX;
    if (pct > 1000)
        pct = 1000;
    needed = (int64_t)(in->busy > 0 ? in->busy : 0) + (pending + jpr - 1) / jpr;
    want = needed + (needed * pct + 99) / 100;
    target = clamp_int(want, lo, hi);
    if (target < cur) {
        int floor = in->busy < hi ? in->busy : hi;

        if (target < floor)
            target = floor;
    }
    if (target > cur) {
        ret->desired = target;
        ret->reason = "ScaleOut";
    } else if (target < cur) {
        ret->desired = target;
        ret->reason = "ScaleIn";
    } else if (want > hi) {
        ret->reason = "AtMaximum";
    } else if (want < lo) {
        ret->reason = "AtMinimum";
    } else {
        ret->reason = "Steady";
    }
}

int rc_autoscale_decide(const struct rc_autoscale *as, const struct rc_autoscale_in *in,
                        struct rc_autoscale_out *ret)
{
    int lo, hi;

    memset(ret, 0, sizeof(*ret));
    if (!as || !in)
        return -RC_EINVAL;
    lo = as->min_replicas > 0 ? as->min_replicas : 0;
    hi = as->max_replicas > lo ? as->max_replicas : lo;
    ret->desired = in->current > 0 ? in->current : 0;
    if (!in->has_signal) {
        ret->desired = clamp_int(ret->desired, lo, hi);
        ret->reason = "NoSignal";
        return 0;
    }
    if (ret->desired < lo) {
        ret->desired = lo;
        ret->reason = "ScaleOut";
        return 0;
    }
    if (ret->desired > hi) {
        ret->desired = hi;
        ret->reason = "ScaleIn";
        return 0;
    }
    if (as->policy == RC_POLICY_PROPORTIONAL)
        decide_proportional(&as->proportional, in, lo, hi, ret);
    else
        decide_step(&as->step, in, lo, hi, ret);
    return 0;
}
