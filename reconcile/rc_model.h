/*
 * rc_model.h - the API model: WorkerPool, ImageVersion and ExpiryPolicy of
 * azpool.dev/v1alpha1 (DESIGN.md §2), decoded, defaulted and validated.
 *
 * Ownership: every pointer inside a struct rc_desired is owned by it and freed by
 * rc_desired_release(). Strings are NUL-terminated heap copies; an absent
 * optional string is NULL. Free-form JSON (extension settings, runbook
 * parameters) is held as a jansson json_t reference owned by the struct.
 *
 * Secrets never appear here: only references (struct rc_secret_ref). Values are
 * resolved outside the core.
 *
 * Defaults are applied in one place (rc_defaults.c: rc_pool_defaults,
 * rc_image_version_defaults, rc_expiry_defaults, called on the zeroed spec
 * before a document is read); after a successful decode every absent field has
 * its documented default. The validation rules are listed in rc_decode.c.
 */
#ifndef AZPOOL_RC_MODEL_H
#define AZPOOL_RC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rc_err.h"
#include "rc_util.h"

#define RC_API_GROUP   "azpool.dev"
#define RC_API_VERSION "azpool.dev/v1alpha1"

/* Input limits (issue: 1 MiB per document, depth 64, 10,000 documents). */
#define RC_DOC_MAX_BYTES (1024 * 1024)
#define RC_DOC_MAX_DEPTH 64
#define RC_DOCS_MAX      10000

enum rc_kind { RC_KIND_WORKERPOOL = 0, RC_KIND_IMAGEVERSION, RC_KIND_EXPIRYPOLICY };

/* Where a document came from, for error messages. */
struct rc_origin {
    char *file;              /* NULL for objects that came from Kubernetes */
    int line, col;           /* position of the document's root mapping */
    int name_line, name_col; /* position of metadata.name (0 when unknown) */
};

struct rc_kv {
    char *key;
    char *value;
};

struct rc_meta {
    char *name;
    char *namespace;        /* defaults to "default" */
    char *uid;              /* from Kubernetes; in files derived as "file:<ns>/<name>" */
    int64_t generation;     /* 0 when unknown (files) */
    char *resource_version; /* Kubernetes only */
    struct rc_kv *labels;
    size_t n_labels;
    struct rc_kv *annotations;
    size_t n_annotations;
    bool deleting; /* metadata.deletionTimestamp is set */
    char **finalizers;
    size_t n_finalizers;
    struct rc_origin origin;
};

struct rc_secret_ref {
    char *name; /* NULL: no reference */
    char *key;
};

struct rc_local_ref {
    char *name;    /* NULL: no reference */
    int line, col; /* position of the name in the source (0 when unknown) */
};

/* ---- WorkerPool ---- */

enum rc_mode { RC_MODE_SCALESET = 0, RC_MODE_VIRTUALMACHINES };
enum rc_orchestration { RC_ORCH_UNIFORM = 0, RC_ORCH_FLEXIBLE };
enum rc_os_type { RC_OS_LINUX = 0, RC_OS_WINDOWS };

/* spec.image: exactly one of id, or the marketplace quadruple. */
struct rc_image_src {
    char *id; /* gallery image version or definition id */
    char *publisher, *offer, *sku, *version;
};

enum rc_identity_type {
    RC_IDENTITY_NONE = 0,
    RC_IDENTITY_SYSTEM,
    RC_IDENTITY_USER,
    RC_IDENTITY_SYSTEM_USER, /* "SystemAssigned, UserAssigned" */
};

struct rc_identity {
    enum rc_identity_type type;
    char **user_assigned; /* identity resource ids */
    size_t n_user_assigned;
};

struct rc_os_profile {
    enum rc_os_type os_type; /* spec.osProfile.osType, default Linux */
    char *admin_username;    /* default "azpool" */
    char **ssh_public_keys;
    size_t n_ssh_public_keys;
    struct rc_secret_ref custom_data; /* customDataSecretRef */
};

struct rc_extension {
    char *name;
    char *publisher;
    char *type;
    char *type_handler_version;
    bool auto_upgrade_minor_version;         /* default true */
    json_t *settings;                        /* object or NULL */
    struct rc_secret_ref protected_settings; /* protectedSettingsSecretRef */
};

struct rc_hrw_registration {
    char *automation_account_id; /* NULL: no registration */
    char *group;
};

struct rc_runbook_hook {
    char *automation_account_id; /* NULL: no hook */
    char *name;
    json_t *parameters;  /* object or NULL */
    int timeout_seconds; /* default 900 */
    int retries;         /* default 3 */
};

struct rc_queue_src {
    char *account_url; /* https://acct.queue.core.windows.net */
    char *queue;
    struct rc_secret_ref credentials; /* NULL name: managed identity */
};

struct rc_http_src {
    char *url;
    char *json_pointer;
    struct rc_secret_ref headers; /* headersSecretRef */
};

enum rc_signal_kind { RC_SIGNAL_NONE = 0, RC_SIGNAL_QUEUE, RC_SIGNAL_HTTP, RC_SIGNAL_TAG };

struct rc_signal {
    enum rc_signal_kind kind;
    struct rc_queue_src queue;
    struct rc_http_src http;
    int poll_seconds; /* default 15 */
};

enum rc_scale_policy { RC_POLICY_STEP = 0, RC_POLICY_PROPORTIONAL };

struct rc_step_policy {             /* defaults from seed 003 */
    int scale_out_threshold;        /* 3 */
    int scale_in_threshold;         /* 1 */
    int scale_out_step;             /* 1 */
    int scale_in_step;              /* 1 */
    int scale_out_cooldown_seconds; /* 240 */
    int scale_in_cooldown_seconds;  /* 300 */
};

struct rc_proportional_policy { /* defaults from seed 001 */
    int jobs_per_replica;       /* 1 */
    int free_target_percentage; /* 20 */
};

struct rc_autoscale {
    bool enabled; /* the autoscale block is present */
    int min_replicas;
    int max_replicas;
    struct rc_signal metric;     /* QUEUE or HTTP */
    enum rc_scale_policy policy; /* default Step */
    struct rc_step_policy step;
    struct rc_proportional_policy proportional;
};

enum rc_recycle { RC_RECYCLE_NONE = 0, RC_RECYCLE_REIMAGE, RC_RECYCLE_REPLACE };
enum rc_deletion_policy { RC_DELETE_DELETE = 0, RC_DELETE_ORPHAN };

struct rc_rollout {
    struct rc_intstr max_surge;       /* default 1 */
    struct rc_intstr max_unavailable; /* default 0 */
    bool canary;                      /* canary block present */
    int canary_replicas;              /* default 1 */
    int64_t canary_soak_ms;           /* soakSeconds, default 600 s */
};

struct rc_pool_spec {
    char *subscription_id;
    char *resource_group;
    char *location;
    enum rc_mode mode;                   /* default ScaleSet */
    enum rc_orchestration orchestration; /* default Uniform */
    char *vm_size;
    int replicas; /* default 1; ignored with autoscale */
    bool has_replicas;
    struct rc_local_ref image_ref; /* imageRef (ImageVersion) */
    struct rc_image_src image;     /* image (inline) */
    struct rc_local_ref expiry_policy_ref;
    char *subnet_id; /* network.subnetId */
    struct rc_identity identity;
    struct rc_os_profile os_profile;
    char *patch_mode; /* NULL or ImageDefault|AutomaticByPlatform|... */
    struct rc_extension *extensions;
    size_t n_extensions;
    struct rc_hrw_registration hybrid_worker;
    struct rc_runbook_hook after_create;
    struct rc_autoscale autoscale;
    struct rc_signal busy; /* kind NONE, QUEUE, HTTP or TAG */
    enum rc_recycle recycle_after_job;
    struct rc_rollout rollout;
    int64_t drain_timeout_ms; /* default 1800 s */
    enum rc_deletion_policy deletion_policy;
    bool paused;
    struct rc_kv *tags;
    size_t n_tags;
};

struct rc_pool {
    struct rc_meta meta;
    struct rc_pool_spec spec;
};

/* ---- ImageVersion ---- */

enum rc_run_when { RC_RUN_ONCHANGE = 0, RC_RUN_NEVER };

struct rc_image_version_spec {
    char *gallery_subscription_id;
    char *gallery_resource_group;
    char *gallery_name;
    char *image_definition;
    char *version;             /* "latest" (default) or "M.m.p" */
    char *build_template_id;   /* build.imageTemplateId, NULL: no build */
    enum rc_run_when run_when; /* default OnChange */
    int64_t revision;
};

struct rc_image_version {
    struct rc_meta meta;
    struct rc_image_version_spec spec;
};

/* ---- ExpiryPolicy ---- */

struct rc_window {
    char *schedule;      /* cron text, as written */
    struct rc_cron cron; /* parsed */
    int64_t duration_ms;
    char *time_zone; /* NULL: UTC */
};

struct rc_expiry_spec {
    int64_t max_age_ms;
    struct rc_intstr jitter; /* percentage of maxAge, default 0 */
    int64_t force_after_ms;  /* 0: none */
    struct rc_window *windows;
    size_t n_windows;
    struct rc_intstr disruption_max_unavailable; /* default 1 */
    int64_t replace_before_ms;                   /* default 0 */
};

struct rc_expiry_policy {
    struct rc_meta meta;
    struct rc_expiry_spec spec;
};

/* ---- the desired state: everything read from one source ---- */

/* An object whose document failed validation, identified as far as it could
 * be read (kind, namespace, metadata.name). It is not in the lists of struct
 * rc_desired; callers must not take its absence there for a deletion (DESIGN.md
 * §4 rule 4): keep what exists and report the errors on it instead. */
struct rc_invalid_ref {
    enum rc_kind kind;
    char *namespace; /* "default" when absent */
    char *name;
    struct rc_origin origin;
};

struct rc_desired {
    struct rc_pool *pools;
    size_t n_pools, cap_pools;
    struct rc_image_version *images;
    size_t n_images, cap_images;
    struct rc_expiry_policy *policies;
    size_t n_policies, cap_policies;
    struct rc_invalid_ref *invalid; /* documents of our kinds that failed validation */
    size_t n_invalid, cap_invalid;
};

void rc_desired_release(struct rc_desired *want); /* leaves it zeroed; NULL is fine */

/* Release one object's contents (the struct itself is not freed; it is left
 * zeroed). NULL is fine. */
void rc_meta_release(struct rc_meta *meta);
void rc_pool_release(struct rc_pool *pool);
void rc_image_version_release(struct rc_image_version *iv);
void rc_expiry_policy_release(struct rc_expiry_policy *ep);

/* Lookups by namespace and name; NULL when absent. Borrowed. */
const struct rc_pool *rc_desired_pool(const struct rc_desired *want, const char *ns,
                                      const char *name);
const struct rc_image_version *rc_desired_image(const struct rc_desired *want, const char *ns,
                                                const char *name);
const struct rc_expiry_policy *rc_desired_policy(const struct rc_desired *want, const char *ns,
                                                 const char *name);

/* ---- decoding (rc_decode.c) ---- */

/*
 * Decodes every document of a YAML buffer (multi-document) and appends the
 * valid objects of our kinds to want. Documents of other kinds (or other
 * apiVersions) are skipped with a notice appended to notices (same format as
 * errors). Every error of every document is appended to errs with file:line:col
 * and the field path; an invalid document is not added to want, the others are.
 * Limits: RC_DOC_MAX_BYTES per document, RC_DOC_MAX_DEPTH nesting,
 * RC_DOCS_MAX documents; past them a clear error, never a crash.
 * file is borrowed (copied into origins). notices may be NULL.
 * Returns 0 when no error was added, -RC_EINVAL otherwise (or -RC_ENOMEM).
 */
int rc_decode_yaml(struct rc_desired *want, const char *file, const char *buf, size_t len,
                   struct rc_errs *errs, struct rc_errs *notices);

/*
 * Decodes one object as Kubernetes returns it (a json_t object with apiVersion,
 * kind, metadata, spec and maybe status). Same validation; positions are 0 and
 * file is the given label (e.g. "kube:ns/name") or NULL.
 */
int rc_decode_json(struct rc_desired *want, const char *file, const json_t *obj,
                   struct rc_errs *errs, struct rc_errs *notices);

/* Checks references across documents (imageRef, expiryPolicyRef must name an
 * object of the right kind in the same namespace) and duplicates (same kind,
 * namespace and name twice). Objects with errors stay in want; the caller
 * decides (the CLI fails, the controller marks the pool). */
int rc_validate_refs(const struct rc_desired *want, struct rc_errs *errs);

/* Default values, applied by the decoder in one place. */
void rc_pool_defaults(struct rc_pool_spec *spec);
void rc_image_version_defaults(struct rc_image_version_spec *spec);
void rc_expiry_defaults(struct rc_expiry_spec *spec);
void rc_extension_defaults(struct rc_extension *ext); /* per spec.extensions[] entry */
const char *rc_default_image_version(void);           /* spec.image.version: "latest" */

/* "WorkerPool", "ImageVersion", "ExpiryPolicy". */
const char *rc_kind_name(enum rc_kind kind);

#endif
