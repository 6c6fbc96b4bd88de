/*
 * rc_defaults.c - every default value of the API model, in one place.
 *
 * The decoder calls these on a zeroed spec BEFORE it reads the document, so a
 * field that is absent keeps its default and a field that is present replaces
 * it. The CRD schemas (crds/) mirror these values as OpenAPI defaults.
 *
 *   WorkerPool    mode ScaleSet, orchestration Uniform, replicas 1,
 *                 osProfile.osType Linux, osProfile.adminUsername "azpool",
 *                 identity.type None, image.version "latest" (marketplace),
 *                 extensions[].autoUpgradeMinorVersion true,
 *                 hooks.afterCreate.runbook.timeoutSeconds 900, .retries 3,
 *                 autoscale.minReplicas 0, autoscale.policy Step,
 *                 step (seed 003): scaleOutThreshold 3, scaleInThreshold 1,
 *                 scaleOutStep 1, scaleInStep 1, scaleOutCooldownSeconds 240,
 *                 scaleInCooldownSeconds 300,
 *                 proportional (seed 001): jobsPerReplica 1, freeTargetPercentage 20,
 *                 metric/busy pollSeconds 15, recycleAfterJob None,
 *                 rollout.maxSurge 1, rollout.maxUnavailable 0,
 *                 rollout.canary.replicas 1, rollout.canary.soakSeconds 600,
 *                 drain.timeoutSeconds 1800, deletionPolicy Delete, paused false.
 *   ImageVersion  version "latest", build.runWhen OnChange, build.revision 0.
 *   ExpiryPolicy  jitter "0%", forceAfter none (0), maintenanceWindows none
 *                 (always allowed), timeZone UTC, disruptionBudget.maxUnavailable 1,
 *                 replaceBefore 0.
 *
 * The only allocation is the default strings; on allocation failure they stay
 * NULL and the decoder reports -RC_ENOMEM.
 */
#include "rc_model.h"

#include <stdlib.h>
#include <string.h>

#define DEF_ADMIN_USERNAME "azpool"
#define DEF_VERSION        "latest"

static void def_step(struct rc_step_policy *s)
{
    s->scale_out_threshold = 3;
    s->scale_in_threshold = 1;
    s->scale_out_step = 1;
    s->scale_in_step = 1;
    s->scale_out_cooldown_seconds = 240;
    s->scale_in_cooldown_seconds = 300;
}

void rc_pool_defaults(struct rc_pool_spec *spec)
{
    spec->mode = RC_MODE_SCALESET;
    spec->orchestration = RC_ORCH_UNIFORM;
    spec->replicas = 1;
    spec->identity.type = RC_IDENTITY_NONE;
    spec->os_profile.os_type = RC_OS_LINUX;
    if (!spec->os_profile.admin_username)
        spec->os_profile.admin_username = rc_strdup(DEF_ADMIN_USERNAME);
    spec->after_create.timeout_seconds = 900;
    spec->after_create.retries = 3;
    spec->autoscale.enabled = false;
    spec->autoscale.min_replicas = 0;
    spec->autoscale.max_replicas = 0;
    spec->autoscale.metric.poll_seconds = 15;
    spec->autoscale.policy = RC_POLICY_STEP;
    def_step(&spec->autoscale.step);
    spec->autoscale.proportional.jobs_per_replica = 1;
    spec->autoscale.proportional.free_target_percentage = 20;
    spec->busy.kind = RC_SIGNAL_NONE;
    spec->busy.poll_seconds = 15;
    spec->recycle_after_job = RC_RECYCLE_NONE;
    spec->rollout.max_surge = (struct rc_intstr){.set = true, .is_percent = false, .value = 1};
    spec->rollout.max_unavailable =
        (struct rc_intstr){.set = true, .is_percent = false, .value = 0};
    spec->rollout.canary = false;
    spec->rollout.canary_replicas = 1;
    spec->rollout.canary_soak_ms = 600 * 1000;
    spec->drain_timeout_ms = 1800 * 1000;
    spec->deletion_policy = RC_DELETE_DELETE;
    spec->paused = false;
}

/* The marketplace image version when image.version is absent. */
const char *rc_default_image_version(void)
{
    return DEF_VERSION;
}

/* An extension's defaults (called for each list entry). */
void rc_extension_defaults(struct rc_extension *ext)
{
    ext->auto_upgrade_minor_version = true;
}

void rc_image_version_defaults(struct rc_image_version_spec *spec)
{
    if (!spec->version)
        spec->version = rc_strdup(DEF_VERSION);
    spec->run_when = RC_RUN_ONCHANGE;
    spec->revision = 0;
}

void rc_expiry_defaults(struct rc_expiry_spec *spec)
{
    spec->jitter = (struct rc_intstr){.set = true, .is_percent = true, .value = 0};
    spec->force_after_ms = 0;
    spec->disruption_max_unavailable =
        (struct rc_intstr){.set = true, .is_percent = false, .value = 1};
    spec->replace_before_ms = 0;
}
