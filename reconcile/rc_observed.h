/*
 * rc_observed.h - the live Azure state the planner compares against, and the
 * decoder from ARM JSON (rc_observe.c).
 *
 * The observed model is a flat set of resources, each with the facts planning
 * needs: ownership tags, image, creation time, state, busy flag. The controller
 * fills it from ARM list responses (one list per pool per reconcile); the CLI
 * from an `--observed` file; the plan cases from a compact YAML form.
 *
 * Ownership: a struct rc_observed owns everything it points to, released by
 * rc_observed_release(). All ids are ARM ids as returned (compare them with
 * rc_strcasecmp: Azure ids are case-insensitive).
 *
 * String store (have->shared, additive): rc_observe_arm() puts every string
 * of the scale sets and instances it decodes - ids, names, tag keys and
 * values, own.pool/owner, extension strings - and their tags arrays in one
 * struct rc_strtab (rc_util.h), interning the values that repeat (scale_set_id,
 * image, states, spec hashes, tags), so that 100,000 instances are a few
 * arena chunks instead of ~1,000,000 mallocs. rc_observed_release() frees a
 * field unless the store owns it. So: never free() or realloc() a string or
 * tags array of a decoded scale set or instance yourself (they may be shared):
 * replace a string with rc_observed_set_str(); do not move such a resource
 * into another struct rc_observed (rc_observed_copy() gives private copies).
 * A field set by hand (malloc'd) is private and freed as before. Extension
 * arrays and the other kinds (NICs, workers, jobs, ...) stay malloc'd.
 *
 * Instance ids (additive): a Uniform scale-set instance whose ARM id is
 * exactly scale_set_id + "/virtualMachines/" + instance_id is stored with
 * id NULL (~150 bytes less per instance); rc_obs_instance_id() gives the id
 * of any instance, rc_obs_instance_id_is() compares it. Read ids through them.
 *
 * Tags Azpool writes (DESIGN.md §4 rule 1) are parsed into the typed fields
 * below; all tags are also kept verbatim in tags[].
 *
 * Ownership of Uniform scale-set instances: a Uniform VMSS instance often
 * carries no azpool tags of its own. The decoder keeps its own tags as they
 * are (own.managed false, own.pool NULL); the planner treats it as owned
 * through its scale set (scale_set_id -> a VMSS whose own.managed is true).
 *
 * Decoding rules (kind recognition, image strings, derived state, jobs'
 * attempts, limits) are listed at the top of rc_observe.c. In short, state is
 * Deleting (provisioningState Deleting), Failed (Failed, a
 * ProvisioningState/failed/<code> status, or unhealthy), Ready (Succeeded and
 * running, or Succeeded without an instanceView, or Updating while running),
 * else Provisioning. Registering and Draining are decided by the planner.
 */
#ifndef AZPOOL_RC_OBSERVED_H
#define AZPOOL_RC_OBSERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_err.h"
#include "rc_model.h"

/* Tag names (Azure tag names cannot contain '/'). */
#define RC_TAG_MANAGED_BY   "azpool.managed-by" /* value "azpool" */
#define RC_TAG_POOL         "azpool.pool"       /* "<namespace>/<name>" */
#define RC_TAG_OWNER        "azpool.owner"      /* uid of the pool object */
#define RC_TAG_IMAGE        "azpool.image"      /* image id the resource was created with */
#define RC_TAG_CREATED_AT   "azpool.created-at"
#define RC_TAG_EXPIRES_AT   "azpool.expires-at"
#define RC_TAG_SPEC_HASH    "azpool.spec-hash" /* hash of the spec fields baked into the model */
#define RC_TAG_LAST_SCALE   "azpool.last-scale-time"
#define RC_TAG_HALTED_IMAGE "azpool.halted-image" /* rollout of this image halted */
#define RC_TAG_HALTED_HASH                                                                         \
    "azpool.halted-spec-hash"                       /* spec hash of the model the halt             \
                                                       restored (rc_plan.c; additive) */
#define RC_TAG_BUSY         "azpool.busy"           /* "true": set by the worker itself */
#define RC_TAG_DRAINING     "azpool.draining-since" /* RFC 3339: drain started */
#define RC_MANAGED_BY_VALUE "azpool"

enum rc_inst_state {
    RC_INST_PROVISIONING = 0,
    RC_INST_REGISTERING, /* created; afterCreate hook or HRW registration pending */
    RC_INST_READY,
    RC_INST_DRAINING,
    RC_INST_DELETING,
    RC_INST_FAILED,
};

const char *rc_inst_state_name(enum rc_inst_state s); /* "Provisioning", ... */

/* Ownership facts common to every observed resource. */
struct rc_owned {
    char *pool;  /* tag azpool.pool, NULL when absent */
    char *owner; /* tag azpool.owner, NULL when absent */
    struct rc_kv *tags;
    uint32_t n_tags;
    bool managed; /* tag azpool.managed-by=azpool */
};

struct rc_obs_extension {
    char *name;
    char *publisher;
    char *type;
    char *provisioning_state;
};

/* A VM: a VMSS instance (Uniform or Flexible) or a standalone VM. Fields are
 * ordered for size (100,000 of these in a large world). */
struct rc_obs_instance {
    char *id;           /* ARM id; NULL when it is the canonical Uniform id (see the
                           top): use rc_obs_instance_id() */
    char *name;         /* VM name ("<vmss>_<instanceId>" for Uniform instances) */
    char *instance_id;  /* VMSS instanceId; NULL for standalone VMs */
    char *scale_set_id; /* id of the VMSS it belongs to; NULL for standalone VMs */
    char *vm_id;        /* properties.vmId (GUID) */
    char *computer_name;
    char *image;               /* image id it runs (exactVersion applied when known) */
    char *spec_hash;           /* tag azpool.spec-hash */
    char *provisioning_state;  /* as returned */
    char *power_state;         /* "running", "deallocated", ... from instanceView */
    char *nic_id;              /* primary NIC id (standalone VMs) */
    int64_t created_ms;        /* properties.timeCreated, else tag created-at, else 0 */
    int64_t expires_ms;        /* tag azpool.expires-at, 0 when absent */
    int64_t draining_since_ms; /* tag azpool.draining-since, 0 when absent */
    struct rc_obs_extension *extensions;
    uint32_t n_extensions;
    enum rc_inst_state state : 8; /* derived (rc_observe.c) */
    bool latest_model : 1;        /* latestModelApplied (true for standalone VMs) */
    bool unhealthy : 1;           /* health status reports unhealthy */
    bool busy : 1;                /* tag azpool.busy=true, or merged from the busy signal */
    struct rc_owned own;
};

struct rc_obs_scale_set {
    char *id;
    char *name;
    char *location;
    char *orchestration;   /* "Uniform" | "Flexible" */
    int64_t capacity;      /* sku.capacity */
    char *vm_size;         /* sku.name */
    char *image;           /* model image id */
    char *spec_hash;       /* tag azpool.spec-hash */
    int64_t last_scale_ms; /* tag azpool.last-scale-time, 0 when absent */
    char *halted_image;    /* tag azpool.halted-image */
    char *provisioning_state;
    struct rc_owned own;
};

struct rc_obs_nic {
    char *id;
    char *name;
    char *vm_id; /* properties.virtualMachine.id, NULL when not attached */
    char *provisioning_state;
    struct rc_owned own;
};

/* A hybrid runbook worker (cannot carry tags: ownership follows vm_resource_id). */
struct rc_obs_worker {
    char *id;
    char *name;     /* worker GUID */
    char *group_id; /* id of its worker group */
    char *vm_resource_id;
};

struct rc_obs_worker_group {
    char *id;
    char *name;
};

/* A gallery image version (for ImageVersion "latest" resolution). */
struct rc_obs_image_version {
    char *id;
    char *image_definition_id; /* the id without /versions/... */
    char *name;                /* "1.5.0" */
    bool exclude_from_latest;
    int64_t published_ms;
    char *provisioning_state;
};

/* An Azure Image Builder template (not owned: the user's). */
struct rc_obs_image_template {
    char *id;
    char *run_state; /* lastRunStatus.runState, NULL when never run */
    int64_t run_start_ms, run_end_ms;
    char *run_message;
    char *artifact_id; /* runOutputs artifactId of the last run */
    int64_t
        built_revision; /* revision of the last build Azpool started (from ImageVersion status) */
};

/* An Automation job started by an afterCreate hook. */
struct rc_obs_job {
    char *id;
    char *name;
    char *runbook;
    char *status;       /* New, Activating, Running, Completed, Failed, Stopped, ... */
    char *instance_id;  /* ARM id of the VM the job validates (job parameter) */
    int attempt;        /* 1-based */
    int64_t created_ms; /* properties.creationTime (else startTime); 0 when unknown: the
                           planner then times the attempt from the VM's creation */
};

/* Facts about a pool that live outside ARM: the autoscale signal read this
 * turn, the busy set from a queue or HTTP endpoint, and status remembered from
 * earlier reconciles. Filled by the controller (or a plan case). */
struct rc_obs_pool {
    char *pool; /* "ns/name" */
    bool has_signal;
    int64_t signal; /* queue length / pending jobs */
    char **busy;    /* instance names reported busy */
    size_t n_busy;
    int64_t last_scale_ms; /* from status when the VMSS tag is not available */
    int64_t last_scale_out_ms, last_scale_in_ms;
    int desired_replicas; /* last decided desired size, -1 unknown */
    char *halted_image;   /* from status (VirtualMachines mode) */
    char **job_done;      /* instance names whose job finished since the last reconcile
                             (busy -> idle; drives recycleAfterJob) */
    size_t n_job_done;
    bool list_failed; /* the list of this pool's resources failed: plan nothing destructive */
};

struct rc_strtab; /* the string store of one rc_observed (rc_util.h; see the top) */

struct rc_observed {
    struct rc_obs_scale_set *scale_sets;
    size_t n_scale_sets, cap_scale_sets;
    struct rc_obs_instance *instances;
    size_t n_instances, cap_instances;
    struct rc_obs_nic *nics;
    size_t n_nics, cap_nics;
    struct rc_obs_worker *workers;
    size_t n_workers, cap_workers;
    struct rc_obs_worker_group *groups;
    size_t n_groups, cap_groups;
    struct rc_obs_image_version *image_versions;
    size_t n_image_versions, cap_image_versions;
    struct rc_obs_image_template *templates;
    size_t n_templates, cap_templates;
    struct rc_obs_job *jobs;
    size_t n_jobs, cap_jobs;
    struct rc_obs_pool *pools;
    size_t n_pools, cap_pools;
    struct rc_strtab *shared; /* additive: the string store (see the top), or NULL */
};

void rc_observed_release(struct rc_observed *have); /* leaves it zeroed; NULL is fine */

/*
 * Adds the resources of an ARM list response ({"value": [...]}) or of a single
 * resource object to have. The type of each item is recognised from its "type"
 * and id shape (VMSS, VMSS VM, VM, NIC, VM extension, hybrid worker, worker
 * group, gallery image version, image template, automation job); unknown types
 * are skipped. Malformed items are appended to errs (path "value[3].properties")
 * and skipped; the others are kept. Limits: RC_OBSERVE_DOC_MAX items in one
 * document (a larger one is refused whole), RC_OBSERVED_MAX resources in have.
 * Returns 0 or -RC_EPROTO (not an object) / -RC_ENOMEM / -RC_ELIMIT.
 */
#define RC_OBSERVE_DOC_MAX 100000  /* items in one ARM document (additive) */
#define RC_OBSERVED_MAX    1000000 /* resources in a struct rc_observed (additive) */
int rc_observe_arm(struct rc_observed *have, const json_t *doc, struct rc_errs *errs);
/* Same from text (parses with JSON_REJECT_DUPLICATES). file labels errors. */
int rc_observe_arm_text(struct rc_observed *have, const char *file, const char *json, size_t len,
                        struct rc_errs *errs);

/* The pool facts entry of "ns/name", created when absent; NULL on ENOMEM. */
struct rc_obs_pool *rc_observed_pool(struct rc_observed *have, const char *pool);

/* Replaces the string *field of a resource in have with a copy of value (NULL
 * is fine), freeing the old string unless have's store owns it (see the top).
 * Returns 0, or -RC_ENOMEM with *field unchanged. */
int rc_observed_set_str(struct rc_observed *have, char **field, const char *value);

/* The ARM id of x: x->id, else the canonical Uniform id written into buf.
 * NULL when x has neither (no id, or no scale set / instance id) or the id
 * does not fit in size (RC_OBS_ID_MAX always fits a decoded id). */
#define RC_OBS_ID_MAX 8200
const char *rc_obs_instance_id(const struct rc_obs_instance *x, char *buf, size_t size);
/* Whether the ARM id of x equals id (case-insensitive, as Azure compares). */
bool rc_obs_instance_id_is(const struct rc_obs_instance *x, const char *id);

/* Deep copy (for the plan-apply simulation in tests and the controller cache). */
int rc_observed_copy(const struct rc_observed *src, struct rc_observed *ret);

#endif
