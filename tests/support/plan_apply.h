/*
 * plan_apply.h - test support: builds observed state by hand and simulates
 * the immediate ARM effect of a plan on it (tests/cases/run_plan.c).
 *
 * The effect of each action, as ARM shows it right after the write returns:
 *   PUT/PATCH VMSS   model (image, spec hash from tags, tags), capacity; new
 *                    capacity adds Provisioning instances on the model (next
 *                    instanceIds); a model change marks the existing
 *                    instances latestModelApplied=false
 *   POST delete      the named instances become Deleting; capacity drops
 *   POST reimage     the named instances are Provisioning on the model again,
 *                    and leave job_done
 *   DELETE VMSS/VM   Deleting (the LRO has started), a VMSS's instances too
 *   PATCH tags       tags replaced (ownership fields re-derived); also PUT
 *                    {location, tags} on a Uniform instance
 *   PUT NIC/VM/ext   NIC, Provisioning VM (image, tags, created now), extension
 *                    (provisioningState Creating until the world settles)
 *   PUT group/worker group, worker (vmResourceId from the body)
 *   DELETE worker    removed
 *   PUT job          job New (attempt = count, VM from the body parameters)
 *   POST .../run     template built_revision = count, runState Running
 * Status effects: halted_image, desired replicas and the last scale time go
 * into the rc_obs_pool, as the controller hands them back from the status.
 *
 * Ownership: every string in a struct rc_observed built here is a heap copy,
 * released by rc_observed_release(); pools facts come from rc_observed_pool().
 */
#ifndef AZPOOL_PLAN_APPLY_H
#define AZPOOL_PLAN_APPLY_H

#include <stdint.h>

#include "rc_observed.h"
#include "rc_plan.h"

struct rc_obs_scale_set *pa_add_scale_set(struct rc_observed *have);
struct rc_obs_instance *pa_add_instance(struct rc_observed *have);
struct rc_obs_nic *pa_add_nic(struct rc_observed *have);
struct rc_obs_worker *pa_add_worker(struct rc_observed *have);
struct rc_obs_worker_group *pa_add_group(struct rc_observed *have);
struct rc_obs_image_version *pa_add_image_version(struct rc_observed *have);
struct rc_obs_image_template *pa_add_template(struct rc_observed *have);
struct rc_obs_job *pa_add_job(struct rc_observed *have);
int pa_add_extension(struct rc_obs_instance *inst, const char *name);

/* Sets own (managed, pool, owner, tags) and the typed tag fields from a tags
 * object. */
int pa_set_tags(struct rc_owned *own, const json_t *tags);
const char *pa_tag(const struct rc_owned *own, const char *key);

/* Applies plan to have at now_ms. Returns 0, or -1 with a message in err
 * (an action the simulation does not understand). */
int pa_apply(struct rc_observed *have, const struct rc_plan *plan, int64_t now_ms, char *err,
             size_t err_size);

#endif
