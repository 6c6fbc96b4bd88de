/*
 * rc_plan.h - the planner: desired + observed + policy + now -> actions + status.
 *
 *   int rc_plan(want, have, pol, now_ms, ret, reterr);
 *
 * Pure (DESIGN.md §3): no I/O, clock, randomness or globals. The same inputs
 * always give the same plan, byte for byte. The plan is sorted (pool, wave,
 * verb, target, key). Every action carries a reason that names the instances
 * concerned and an idempotency key that is stable across re-plans of the same
 * situation, so a crashed controller re-issues the same writes to the same
 * names (DESIGN.md §4 rule 2).
 *
 * Applying a plan and planning again yields an empty plan: a plan holds every
 * write that can be done now; what must wait (provisioning, soak, drain,
 * windows) is reported in the pool status with the time to look again
 * (requeue_at_ms).
 *
 * Waves: the executor runs the actions of one pool wave by wave; an action of
 * wave k starts only after every action of that pool with a lower wave
 * succeeded (NIC before VM before extension before worker registration).
 *
 * Safety (DESIGN.md §4): resources without the azpool tags are never in a plan;
 * busy instances are not disrupted before forceAfter or the drain timeout;
 * reimage/manualupgrade/delete on a scale set always carry a non-empty
 * instances list; owned resources of pools missing from want are destroyed only
 * when pol->collect_orphans and at most pol->max_deletions pools per plan unless
 * pol->allow_mass_delete.
 *
 * Ownership: ret is filled with new allocations released by rc_plan_release(),
 * except the per-instance status strings, which are borrowed from have (see
 * struct rc_inst_status): release the plan before have. want, have and pol are
 * borrowed. The strings of the pool statuses and their instances arrays live
 * in the plan's string store (ret->strs, rc_util.h), interned: treat them as
 * read-only (rc_plan_release() frees a status field by hand only when the
 * store does not own it, so a plan built by hand with malloc'd fields works).
 */
#ifndef AZPOOL_RC_PLAN_H
#define AZPOOL_RC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_err.h"
#include "rc_model.h"
#include "rc_observed.h"

/* api-versions the core writes into actions (shared/reference/azure-arm.md §0). */
#define RC_API_COMPUTE      "2024-11-01"
#define RC_API_GALLERY      "2024-03-03"
#define RC_API_NETWORK      "2024-05-01"
#define RC_API_AUTOMATION   "2024-10-23"
#define RC_API_IMAGEBUILDER "2024-02-01"
#define RC_API_RESOURCES    "2021-04-01"

/* Time-zone offsets, resolved outside the core (from tzdata) and passed in:
 * offset_s[i] applies from at_ms[i] (ascending) until the next entry. */
struct rc_tz {
    const char *name; /* "Europe/Berlin" */
    const int64_t *at_ms;
    const int32_t *offset_s;
    size_t n;
};

struct rc_policy {
    const char *only_pool; /* "ns/name": plan this pool only (no orphan collection); NULL: all */
    bool collect_orphans;  /* desired state is complete: destroy owned resources of missing pools */
    int max_deletions;     /* pools destroyed per plan as orphans (default 1) */
    bool allow_mass_delete; /* lift max_deletions */
    const struct rc_tz *zones;
    size_t n_zones;
};

/* The policy defaults (collect_orphans false, max_deletions 1). */
void rc_policy_init(struct rc_policy *pol);
/* Offset of zone name at t; 0 for NULL/"UTC"; -RC_ENOTFOUND when unknown. */
int rc_tz_offset(const struct rc_policy *pol, const char *name, int64_t t_ms, int32_t *ret_s);

enum rc_verb {
    RC_VERB_CREATE = 0,
    RC_VERB_UPDATE,
    RC_VERB_SCALE,
    RC_VERB_DELETE,
    RC_VERB_REIMAGE,
    RC_VERB_REGISTER,
    RC_VERB_DEREGISTER,
    RC_VERB_RUN,
};

enum rc_method { RC_HTTP_PUT = 0, RC_HTTP_PATCH, RC_HTTP_POST, RC_HTTP_DELETE };

const char *rc_verb_name(enum rc_verb v);     /* "create", ... (plan JSON) */
const char *rc_method_name(enum rc_method m); /* "PUT", ... */

struct rc_action {
    char *pool; /* "ns/name" */
    enum rc_verb verb;
    enum rc_method method;
    char *target;            /* ARM id of the resource acted on */
    char *path;              /* request path: target, or target + "/delete" etc. */
    const char *api_version; /* static string */
    json_t *body;            /* request body or NULL; owned */
    char **instances;        /* instance ids (VMSS) or VM names */
    size_t n_instances;
    bool has_count;
    int64_t count; /* e.g. new capacity for scale, number of VMs for create */
    char *reason;  /* "scale out 3 -> 5 (replicas)", "expired: hw-0-a" */
    char *key;     /* idempotency key */
    int wave;
};

enum rc_cond { RC_COND_FALSE = 0, RC_COND_TRUE, RC_COND_UNKNOWN };

/* Borrowed: name, id, image and obs point into the struct rc_observed the plan
 * was made from (a status is read while that observation is alive); reason is
 * a static string. This keeps a plan of 100,000 instances from copying 300,000
 * strings. id is NULL when the instance's id is not stored (a canonical Uniform
 * id, rc_observed.h): read it with rc_inst_status_id(). */
struct rc_inst_status {
    const char *name;
    const char *id;
    const char *image;
    int64_t created_ms;
    int64_t expires_ms; /* 0: never */
    enum rc_inst_state state;
    bool busy;
    const char *reason;                /* "Expired", "OutdatedImage", "Failed", NULL */
    const struct rc_obs_instance *obs; /* additive: the instance (NULL in a hand-made status) */
};

#define RC_STATUS_INSTANCES_MAX 200

struct rc_pool_status {
    char *pool; /* "ns/name" */
    int replicas, ready_replicas, updated_replicas, expiring_replicas, desired_replicas;
    char *current_image;
    char *target_image;
    char *halted_image; /* rollout of this image halted (canary failed); NULL: none. The
                           controller keeps it in the status and passes it back as
                           rc_obs_pool.halted_image (VirtualMachines mode). Additive. */
    int64_t last_scale_ms;
    enum rc_cond ready, progressing, degraded, stalled;
    char *reason;                     /* PascalCase: Ready, Creating, ScalingOut, RollingOut,
                                         WaitingForMaintenanceWindow, ... */
    char *message;                    /* one line for humans */
    int pending;                      /* actions planned for this pool */
    char *summary;                    /* "surge 1, delete 1 (expired)" */
    int64_t requeue_at_ms;            /* when to look again (a wait ends); 0: only on change */
    struct rc_inst_status *instances; /* at most RC_STATUS_INSTANCES_MAX */
    size_t n_instances;
};

struct rc_plan {
    struct rc_action *actions;
    size_t n_actions, cap_actions;
    struct rc_pool_status *pools;
    size_t n_pools, cap_pools;
    struct rc_strtab *strs; /* additive: the statuses' strings (see the top), or NULL */
};

/* The ARM id of a status instance: s->id, else rebuilt from s->obs into buf
 * (RC_OBS_ID_MAX bytes always suffice); "" when unknown. Never NULL. */
const char *rc_inst_status_id(const struct rc_inst_status *s, char *buf, size_t size);

int rc_plan(const struct rc_desired *want, const struct rc_observed *have,
            const struct rc_policy *pol, int64_t now_ms, struct rc_plan *ret,
            struct rc_err *reterr);
void rc_plan_release(struct rc_plan *plan); /* leaves it zeroed; NULL is fine */

/* Plan JSON of DESIGN.md §10 ({"changes": N, "pools": [...]}); new reference. */
json_t *rc_plan_to_json(const struct rc_plan *plan);

#endif
