/*
 * rc_plan_int.h - internals shared by the planner's files (rc_plan.c,
 * rc_plan_vmss.c, rc_plan_vm.c, rc_plan_json.c). Not a public interface.
 *
 * One struct rp_ctx lives on rc_plan()'s stack per pool being planned. It
 * borrows want/have/pol and the pool; it owns the rp_inst array (freed by
 * rp_ctx_release). Actions are appended to ctx->plan directly; the status
 * entry ctx->st belongs to ctx->plan as well.
 */
#ifndef AZPOOL_RC_PLAN_INT_H
#define AZPOOL_RC_PLAN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_arm.h"
#include "rc_plan.h"

#define RP_KEY_MAX  300
#define RP_NOTE_MAX 512

/* ---- indexes (rc_plan_index.c) ---- */

struct rp_ent {
    const char *key; /* borrowed from want/have */
    uint64_t hash;   /* of the lowercased key */
    uint32_t idx;    /* position in the indexed array (resources are < 2^32) */
    bool same;       /* same key as the entry before */
    bool cont;       /* while building: same key (strcmp) as the entry added before */
};

struct rp_index {
    struct rp_ent *v; /* sorted by hash, idx; equal keys adjacent */
    size_t n;
};

/* Lookups over the observed world, built once per rc_plan(). */
struct rp_world {
    struct rp_index inst_ss;   /* instances by scale_set_id */
    struct rp_index inst_pool; /* managed instances by azpool.pool (when built by_pool) */
    struct rp_index inst_name; /* standalone VMs by name */
    struct rp_index ss_id, ss_pool;
    struct rp_index nic_id, nic_name, nic_pool;
    struct rp_index workers; /* by vm_resource_id */
    struct rp_index jobs;    /* by instance_id (VM id) */
    struct rp_index opools;  /* rc_obs_pool by pool */
    struct rp_index want;    /* desired pools by "ns/name" */
    char **want_keys;
    size_t n_want_keys;
};

/* by_pool false leaves inst_pool empty (only VirtualMachines pools, deleting
 * pools and orphan collection look instances up by pool tag). */
int rp_world_build(struct rp_world *w, const struct rc_desired *want,
                   const struct rc_observed *have, bool by_pool);
void rp_world_release(struct rp_world *w);
/* The entries of key are v[first .. *ret_end) (empty when none). */
size_t rp_index_range(const struct rp_index *ix, const char *key, size_t *ret_end);
/* Position (in the indexed array) of the first entry of key, SIZE_MAX when none. */
size_t rp_index_find(const struct rp_index *ix, const char *key);

/* Victim classes (lower goes first, DESIGN.md §5). */
enum rp_class { RP_CLASS_FAILED = 0, RP_CLASS_EXPIRED, RP_CLASS_OUTDATED, RP_CLASS_OTHER };

/* The planner's view of one owned instance. */
struct rp_inst {
    const struct rc_obs_instance *o;
    enum rc_inst_state state; /* effective state (hooks and registration applied) */
    bool busy;
    bool deleting; /* observed Deleting: gone already as far as counts go */
    bool failed;
    bool live;  /* not failed, not deleting */
    bool ready; /* live and Ready */
    bool on_target;
    bool outdated_image; /* runs another image than the target */
    bool outdated;       /* outdated image or model (spec hash / latestModelApplied) */
    bool stale_model;    /* ScaleSet Uniform: latestModelApplied false only because the
                            model went to a halted image and back (rc_plan.c): up to date,
                            not replaced, no write */
    bool expiring;       /* now >= expires - replaceBefore */
    bool forced;         /* now >= forceAfter */
    bool selected;       /* chosen for expiry replacement this plan */
    bool recycle_replace, recycle_reimage;
    bool old;       /* to be replaced */
    bool del;       /* deleted by this plan */
    bool drain;     /* busy victim: gets the draining tag */
    bool drain_due; /* drain timeout passed */
    int64_t expires_ms, force_ms;
    bool has_slot;
    unsigned slot, inc;
    const char *why; /* "failed", "expired", "outdated image", "scale in", ... */
};

struct rp_ctx {
    struct rc_plan *plan;
    const struct rc_pool *p;
    const struct rc_desired *want;
    const struct rc_observed *have;
    const struct rc_policy *pol;
    const struct rp_world *w;
    int64_t now;
    char key[RP_KEY_MAX]; /* "ns/name" */
    struct rc_pool_status *st;
    const struct rc_expiry_policy *ep;
    const struct rc_obs_pool *op;      /* may be NULL */
    const struct rc_obs_scale_set *ss; /* ScaleSet mode: the owned VMSS or NULL */
    char vmss_id[RC_ARM_ID_MAX];
    char target[RC_ARM_ID_MAX]; /* image the pool should run ("" when unresolved) */
    const char *target_arm;     /* image id for ARM bodies (NULL: spec.image marketplace) */
    char halted[RC_ARM_ID_MAX]; /* image whose rollout halted ("" none) */
    bool halt_now;              /* this plan halts the rollout of target */
    bool adopt;                 /* ScaleSet: an untagged VMSS is adopted (annotation) */
    char halt_image[RC_ARM_ID_MAX];
    char spec_hash[32];
    struct rp_inst *v;
    size_t n;
    int desired;
    const char *scale_reason; /* autoscale reason or NULL */
    bool scale_write;         /* this plan changes the size: write lastScaleTime */
    int creates;
    int n_del, n_drain, n_reimage;
    bool keep_halt_tags; /* stale_model instances rest on the VMSS's halted tags: keep them */
    bool canary_phase;
    int64_t requeue;        /* earliest wait end */
    char wait[RP_NOTE_MAX]; /* what we wait for (first noted) */
    const char *wait_reason;
    bool stalled;
    const char *stall_reason; /* PascalCase, static */
    char stall_msg[RP_NOTE_MAX];
    size_t first_action; /* index of this pool's first action in plan */
};

/* vsnprintf with truncation (messages may be cut; ids are checked by rc_arm). */
int rp_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends an action; body is taken (decref'd on failure too). instances are
 * copied. Returns 0 or -RC_ENOMEM. */
int rp_add(struct rp_ctx *c, enum rc_verb verb, enum rc_method method, const char *target,
           const char *path_suffix, const char *api, json_t *body, const char *const *inst,
           size_t n_inst, bool has_count, int64_t count, int wave, const char *fmt, ...)
    __attribute__((format(printf, 13, 14)));
/* Same for an action of a pool that is not c->key (orphans, image versions). */
int rp_add_for(struct rc_plan *plan, const char *pool, enum rc_verb verb, enum rc_method method,
               const char *target, const char *path_suffix, const char *api, json_t *body,
               const char *const *inst, size_t n_inst, bool has_count, int64_t count, int wave,
               const char *reason);

/* Notes a wait ending at t_ms (0: unknown) with a message (first one wins). */
void rp_wait(struct rp_ctx *c, const char *reason, int64_t t_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Victim order comparator for rp_inst pointers (qsort). */
int rp_victim_cmp(const void *a, const void *b);

/* A tags object from an observed tag list, without the azpool.* tags when
 * strip is true; new reference. */
json_t *rp_tags_json(const struct rc_kv *tags, size_t n, bool strip);

/* Joins instance labels ("a, b, c", at most 8 then "and N more") into buf. */
void rp_join(char *const *names, size_t n, char *buf, size_t size);

/* Mode planners (after rp_classify and the generic rollout decision). */
int rp_plan_vmss(struct rp_ctx *c);
int rp_plan_vm(struct rp_ctx *c);
/* VirtualMachines mode: effective state of instances (registration, hooks)
 * before classification. */
int rp_vm_effective(struct rp_ctx *c);

/* The generic decision shared by both modes: fills old/del/drain/creates. */
void rp_decide(struct rp_ctx *c);

#endif
