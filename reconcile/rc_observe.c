/*
 * rc_observe.c - ARM JSON -> struct rc_observed (see rc_observed.h).
 *
 * Decisions recorded here (others depend on them):
 * - Kind of an item: from the type spelled by its id (the segments after the
 *   last "/providers/"), which is exact for VMSS instances (Azure returns them
 *   with type "Microsoft.Compute/virtualMachines"); when the id says nothing we
 *   know, from its "type". Both compare case-insensitively. Unknown kinds are
 *   skipped without an error; a known kind without an id is an error.
 * - Uniform VMSS instance: id .../virtualMachineScaleSets/{s}/virtualMachines/{n};
 *   instance_id is the top-level "instanceId" (else the last id segment),
 *   scale_set_id the id up to "/virtualMachines/", name "name" (else
 *   "{s}_{n}"). A Uniform instance often carries no azpool tags of its own: its
 *   own tags are kept as they are (own.managed false) and the PLANNER treats
 *   it as owned through its scale set (scale_set_id).
 * - Flexible member: a plain VM with properties.virtualMachineScaleSet.id;
 *   scale_set_id is that id and instance_id the top-level instanceId, else the
 *   VM name (Flexible instance ids are VM names).
 * - Standalone VM: instance_id and scale_set_id NULL, latest_model true.
 * - image: storageProfile.imageReference.id, with "/versions/<exactVersion>"
 *   appended when the id has no "/versions/" and exactVersion is given;
 *   sharedGalleryImageId / communityGalleryImageId likewise; a marketplace
 *   image as the URN "publisher:offer:sku:version" with the version as
 *   written (not exactVersion), matching rc_arm_image_string().
 * - created_ms: properties.timeCreated, else the top-level createdTime of the
 *   generic resources list ($expand=createdTime; it also gives a top-level
 *   provisioningState), else tag azpool.created-at, else 0. A timeCreated or
 *   createdTime that is not an RFC 3339 string makes the item malformed.
 *   Unparsable azpool.* time tags are reported in errs but the item is kept
 *   (with that field 0): a resource Azpool owns must never vanish from the
 *   observed state because someone edited a tag.
 * - state: provisioningState (else the ProvisioningState/ status, else
 *   Succeeded), compared case-insensitively:
 *     Deleting                                   -> Deleting
 *     Failed, a ProvisioningState/failed/<code>
 *     status, or health status unhealthy         -> Failed
 *     Succeeded and PowerState running, or
 *     Succeeded and no power state reported      -> Ready
 *     Updating (or another transient state) while
 *     running (it succeeded before)              -> Ready
 *     anything else (Creating, not yet running)  -> Provisioning
 *   Registering and Draining are decided by the planner, not here.
 * - busy: tag azpool.busy equal to "true" (any case).
 * - nic_id: the primary NIC of properties.networkProfile.networkInterfaces,
 *   else the first.
 * - Extensions: from a VM's "resources" array, and items of type
 *   .../virtualMachines/extensions attached to their VM (matched by id) at the
 *   end of the call; an extension whose VM is not in have is dropped.
 *   Image template runOutputs items give the template's artifact_id likewise.
 * - Jobs: instance_id is the runbook parameter RC_ARM_JOB_PARAM_VM
 *   ("VmResourceId"); attempt is recovered from the job name, which rc_arm
 *   makes UUIDv5("<lowercased VM id>#<attempt>") (attempts 1..64 are tried);
 *   0 when the name is not of that form.
 * - Image template times: endTime "0001-01-01T00:00:00Z" (still running) and
 *   any time before 1970 read as 0.
 * - The same resource listed twice is kept twice: list each resource once.
 * - Limits: RC_OBSERVE_DOC_MAX (100,000) items in one document (refused as a
 *   whole, nothing added), RC_OBSERVED_MAX (1,000,000) resources in have in
 *   all (raised from 100,000 so that the bench's 10,000 pools of a scale set
 *   and 10 instances fit; items past it are refused with -RC_ELIMIT, the ones
 *   before stay), strings up to 8 KiB, 1,000 tags per resource, 256 MiB of
 *   JSON text.
 * - String store (rc_observed.h): the strings of scale sets and instances
 *   (and their tags arrays and extension strings) live in have->shared, a
 *   struct rc_strtab; values that repeat are interned (exact compare, case
 *   kept: "Succeeded" and "succeeded" are two entries): scale_set_id, image,
 *   instance_id, states, spec hash, location, size, orchestration, tag keys
 *   and values (own.pool, own.owner, spec_hash and halted_image point at the
 *   tag's value). Unique ones (ids, names, vmId, computerName, NIC ids) are
 *   plain copies in the store. rc_observed_release() frees a field unless the
 *   store owns it. NICs, workers, groups, image versions, templates and jobs
 *   stay malloc'd (few of them).
 * - Uniform instance id: stored as NULL when the id is exactly scale_set_id +
 *   "/virtualMachines/" + instance_id (the usual case), else as given;
 *   rc_obs_instance_id() rebuilds it. 100,000 instances: ~15 MB less.
 */
#include "rc_observed.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_arm.h"

#define OBS_STR_MAX          8192
#define OBS_TAGS_MAX         1000
#define OBS_TEXT_MAX         (256u * 1024 * 1024)
#define OBS_JOB_ATTEMPTS_MAX 64
#define OBS_TYPE_MAX         512

enum obs_kind {
    OBS_UNKNOWN = 0,
    OBS_VMSS,
    OBS_VMSS_VM,
    OBS_VM,
    OBS_NIC,
    OBS_EXTENSION,
    OBS_WORKER,
    OBS_GROUP,
    OBS_IMAGE_VERSION,
    OBS_TEMPLATE,
    OBS_RUN_OUTPUT,
    OBS_JOB,
};

struct pending_ext {
    char *parent_id;
    struct rc_obs_extension ext;
};

struct pending_output {
    char *template_id;
    char *artifact_id;
};

struct obs_ctx {
    struct rc_observed *have;
    struct rc_errs *errs;
    const char *file;
    char prefix[48]; /* "value[3]" or "" */
    bool nomem;
    struct pending_ext *exts;
    size_t n_exts, cap_exts;
    struct pending_output *outs;
    size_t n_outs, cap_outs;
};

/* ---- small helpers ---- */

static void obs_err(struct obs_ctx *c, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void obs_err(struct obs_ctx *c, const char *sub, const char *fmt, ...)
{
    struct rc_err e;
    char path[RC_ERR_PATH_MAX];
    va_list ap;

    if (!c->errs)
        return;
    memset(&e, 0, sizeof(e));
    if (c->prefix[0] && sub && sub[0])
        snprintf(path, sizeof(path), "%s.%s", c->prefix, sub);
    else
        snprintf(path, sizeof(path), "%s", c->prefix[0] ? c->prefix : (sub ? sub : ""));
    e.code = -RC_EPROTO;
    e.klass = rc_err_class_of(e.code);
    rc_strlcpy(e.path, path, sizeof(e.path));
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    rc_err_at(&e, c->file, 0, 0);
    rc_errs_push(c->errs, &e);
}

static int lower_c(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static bool prefix_ci(const char *s, const char *p)
{
    for (; *p; s++, p++)
        if (lower_c((unsigned char)*s) != lower_c((unsigned char)*p))
            return false;
    return true;
}

/* Last occurrence of needle in s, case-insensitive. */
static const char *find_last_ci(const char *s, const char *needle)
{
    const char *last = NULL;

    for (; *s; s++)
        if (prefix_ci(s, needle))
            last = s;
    return last;
}

static char *dup_n(struct obs_ctx *c, const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (!d) {
        c->nomem = true;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_s(struct obs_ctx *c, const char *s)
{
    return s ? dup_n(c, s, strlen(s)) : NULL;
}

/* ---- the string store (rc_observed.h) ---- */

static struct rc_strtab *store(struct obs_ctx *c)
{
    if (!c->have->shared && !(c->have->shared = rc_strtab_new()))
        c->nomem = true;
    return c->have->shared;
}

/* A copy of s[0..n) in the store; NULL (with c->nomem) on ENOMEM. */
static char *st_dup_n(struct obs_ctx *c, const char *s, size_t n)
{
    struct rc_strtab *t = store(c);
    char *d = t ? rc_strtab_dup(t, s, n) : NULL;

    if (!d)
        c->nomem = true;
    return d;
}

static char *st_dup(struct obs_ctx *c, const char *s)
{
    return s ? st_dup_n(c, s, strlen(s)) : NULL;
}

/* The interned copy of s[0..n); NULL (with c->nomem) on ENOMEM. */
static char *st_intern_n(struct obs_ctx *c, const char *s, size_t n)
{
    struct rc_strtab *t = store(c);
    char *d = t ? rc_strtab_intern(t, s, n) : NULL;

    if (!d)
        c->nomem = true;
    return d;
}

static char *st_intern(struct obs_ctx *c, const char *s)
{
    return s ? st_intern_n(c, s, strlen(s)) : NULL;
}

/* st_intern() of a malloc'd string, which is freed (NULL stays NULL). */
static char *st_intern_take(struct obs_ctx *c, char *s)
{
    char *d = st_intern(c, s);

    free(s);
    return d;
}

/* Frees a string (or array) field unless the store owns it. */
static void free_field(const struct rc_strtab *t, void *p)
{
    if (!rc_strtab_owns(t, p))
        free(p);
}

/* Member lookup: exact, else case-insensitive. */
static json_t *jget(const json_t *o, const char *key)
{
    const char *k;
    json_t *v;

    if (!json_is_object(o))
        return NULL;
    v = json_object_get(o, key);
    if (v)
        return v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (rc_strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

/* A string member: absent or null -> NULL and 0; wrong type -> error and -1. */
static int get_str(struct obs_ctx *c, const json_t *o, const char *key, const char *path,
                   const char **ret)
{
    json_t *v = jget(o, key);

    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        obs_err(c, path, "must be a string");
        return -1;
    }
    if (json_string_length(v) > OBS_STR_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        obs_err(c, path, "string is too long or contains NUL");
        return -1;
    }
    *ret = json_string_value(v);
    return 0;
}

static int get_obj(struct obs_ctx *c, const json_t *o, const char *key, const char *path,
                   const json_t **ret)
{
    json_t *v = jget(o, key);

    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        obs_err(c, path, "must be an object");
        return -1;
    }
    *ret = v;
    return 0;
}

static int get_bool(struct obs_ctx *c, const json_t *o, const char *key, const char *path,
                    bool dflt, bool *ret)
{
    json_t *v = jget(o, key);

    *ret = dflt;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *ret = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && (rc_strcasecmp(json_string_value(v), "true") == 0 ||
                              rc_strcasecmp(json_string_value(v), "false") == 0)) {
        *ret = rc_strcasecmp(json_string_value(v), "true") == 0;
        return 0;
    }
    obs_err(c, path, "must be a boolean");
    return -1;
}

static int get_time(struct obs_ctx *c, const json_t *o, const char *key, const char *path,
                    int64_t *ret)
{
    const char *s;

    *ret = 0;
    if (get_str(c, o, key, path, &s) < 0)
        return -1;
    if (!s)
        return 0;
    if (rc_time_parse(s, ret, NULL) < 0) {
        obs_err(c, path, "must be an RFC 3339 time, got \"%.64s\"", s);
        return -1;
    }
    if (*ret < 0)
        *ret = 0;
    return 0;
}

/* The type an id spells, lowercased ("microsoft.compute/virtualmachinescalesets/
 * virtualmachines"); "" when the id has no provider part. */
static void id_type(const char *id, char *buf, size_t size)
{
    const char *p = find_last_ci(id, "/providers/");
    size_t n = 0;
    int seg = 0;

    buf[0] = '\0';
    if (!p)
        return;
    p += strlen("/providers/");
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);

        /* segment 0: namespace; odd: type; even (> 0): name */
        if (seg == 0 || seg % 2 == 1) {
            if (n + len + 2 >= size) {
                buf[0] = '\0';
                return;
            }
            if (seg > 0)
                buf[n++] = '/';
            for (size_t i = 0; i < len; i++)
                buf[n++] = (char)lower_c((unsigned char)p[i]);
            buf[n] = '\0';
        }
        seg++;
        if (!e)
            break;
        p = e + 1;
    }
    /* a complete id ends with a name: namespace + pairs = odd segment count */
    if (seg < 3 || seg % 2 == 0)
        buf[0] = '\0';
}

static enum obs_kind kind_of_type(const char *t)
{
    static const struct {
        const char *type;
        enum obs_kind kind;
    } kinds[] = {
        {"microsoft.compute/virtualmachinescalesets", OBS_VMSS},
        {"microsoft.compute/virtualmachinescalesets/virtualmachines", OBS_VMSS_VM},
        {"microsoft.compute/virtualmachines", OBS_VM},
        {"microsoft.network/networkinterfaces", OBS_NIC},
        {"microsoft.compute/virtualmachines/extensions", OBS_EXTENSION},
        {"microsoft.compute/virtualmachinescalesets/virtualmachines/extensions", OBS_EXTENSION},
        {"microsoft.automation/automationaccounts/hybridrunbookworkergroups/hybridrunbookworkers",
         OBS_WORKER},
        {"microsoft.automation/automationaccounts/hybridrunbookworkergroups", OBS_GROUP},
        {"microsoft.compute/galleries/images/versions", OBS_IMAGE_VERSION},
        {"microsoft.virtualmachineimages/imagetemplates", OBS_TEMPLATE},
        {"microsoft.virtualmachineimages/imagetemplates/runoutputs", OBS_RUN_OUTPUT},
        {"microsoft.automation/automationaccounts/jobs", OBS_JOB},
    };

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (rc_strcasecmp(t, kinds[i].type) == 0)
            return kinds[i].kind;
    return OBS_UNKNOWN;
}

static size_t n_resources(const struct rc_observed *h)
{
    return h->n_scale_sets + h->n_instances + h->n_nics + h->n_workers + h->n_groups +
           h->n_image_versions + h->n_templates + h->n_jobs;
}

/* Grows an array of elements of size `elem` to hold one more. */
static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
    size_t ncap;
    void *nv;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 8;
    nv = realloc(*v, ncap * elem);
    if (!nv)
        return -RC_ENOMEM;
    /* the spare capacity is not cleared: every element is written whole
     * before n counts it, and untouched pages of a large array stay unmapped */
    *v = nv;
    *cap = ncap;
    return 0;
}

#define OBS_GROW(arr, n, cap) grow((void **)&(arr), &(cap), (n), sizeof(*(arr)))

/* ---- release ---- */

static void kv_release(const struct rc_strtab *t, struct rc_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free_field(t, kv[i].key);
        free_field(t, kv[i].value);
    }
    free_field(t, kv);
}

static void owned_release(const struct rc_strtab *t, struct rc_owned *o)
{
    free_field(t, o->pool);
    free_field(t, o->owner);
    kv_release(t, o->tags, o->n_tags);
    memset(o, 0, sizeof(*o));
}

static void ext_release(const struct rc_strtab *t, struct rc_obs_extension *e)
{
    free_field(t, e->name);
    free_field(t, e->publisher);
    free_field(t, e->type);
    free_field(t, e->provisioning_state);
    memset(e, 0, sizeof(*e));
}

static void instance_release(const struct rc_strtab *t, struct rc_obs_instance *x)
{
    free_field(t, x->id);
    free_field(t, x->name);
    free_field(t, x->instance_id);
    free_field(t, x->scale_set_id);
    free_field(t, x->vm_id);
    free_field(t, x->computer_name);
    free_field(t, x->image);
    free_field(t, x->spec_hash);
    free_field(t, x->provisioning_state);
    free_field(t, x->power_state);
    free_field(t, x->nic_id);
    for (size_t i = 0; i < x->n_extensions; i++)
        ext_release(t, &x->extensions[i]);
    free_field(t, x->extensions);
    owned_release(t, &x->own);
    memset(x, 0, sizeof(*x));
}

static void scale_set_release(const struct rc_strtab *t, struct rc_obs_scale_set *s)
{
    free_field(t, s->id);
    free_field(t, s->name);
    free_field(t, s->location);
    free_field(t, s->orchestration);
    free_field(t, s->vm_size);
    free_field(t, s->image);
    free_field(t, s->spec_hash);
    free_field(t, s->halted_image);
    free_field(t, s->provisioning_state);
    owned_release(t, &s->own);
    memset(s, 0, sizeof(*s));
}

static void nic_release(const struct rc_strtab *t, struct rc_obs_nic *n)
{
    free(n->id);
    free(n->name);
    free(n->vm_id);
    free(n->provisioning_state);
    owned_release(t, &n->own);
    memset(n, 0, sizeof(*n));
}

static void worker_release(struct rc_obs_worker *w)
{
    free(w->id);
    free(w->name);
    free(w->group_id);
    free(w->vm_resource_id);
    memset(w, 0, sizeof(*w));
}

static void group_release(struct rc_obs_worker_group *g)
{
    free(g->id);
    free(g->name);
    memset(g, 0, sizeof(*g));
}

static void image_version_release(struct rc_obs_image_version *v)
{
    free(v->id);
    free(v->image_definition_id);
    free(v->name);
    free(v->provisioning_state);
    memset(v, 0, sizeof(*v));
}

static void template_release(struct rc_obs_image_template *t)
{
    free(t->id);
    free(t->run_state);
    free(t->run_message);
    free(t->artifact_id);
    memset(t, 0, sizeof(*t));
}

static void job_release(struct rc_obs_job *j)
{
    free(j->id);
    free(j->name);
    free(j->runbook);
    free(j->status);
    free(j->instance_id);
    memset(j, 0, sizeof(*j));
}

static void strv_release(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void obs_pool_release(struct rc_obs_pool *p)
{
    free(p->pool);
    strv_release(p->busy, p->n_busy);
    free(p->halted_image);
    strv_release(p->job_done, p->n_job_done);
    memset(p, 0, sizeof(*p));
}

void rc_observed_release(struct rc_observed *have)
{
    if (!have)
        return;
    for (size_t i = 0; i < have->n_scale_sets; i++)
        scale_set_release(have->shared, &have->scale_sets[i]);
    for (size_t i = 0; i < have->n_instances; i++)
        instance_release(have->shared, &have->instances[i]);
    for (size_t i = 0; i < have->n_nics; i++)
        nic_release(have->shared, &have->nics[i]);
    for (size_t i = 0; i < have->n_workers; i++)
        worker_release(&have->workers[i]);
    for (size_t i = 0; i < have->n_groups; i++)
        group_release(&have->groups[i]);
    for (size_t i = 0; i < have->n_image_versions; i++)
        image_version_release(&have->image_versions[i]);
    for (size_t i = 0; i < have->n_templates; i++)
        template_release(&have->templates[i]);
    for (size_t i = 0; i < have->n_jobs; i++)
        job_release(&have->jobs[i]);
    for (size_t i = 0; i < have->n_pools; i++)
        obs_pool_release(&have->pools[i]);
    free(have->scale_sets);
    free(have->instances);
    free(have->nics);
    free(have->workers);
    free(have->groups);
    free(have->image_versions);
    free(have->templates);
    free(have->jobs);
    free(have->pools);
    rc_strtab_free(have->shared);
    memset(have, 0, sizeof(*have));
}

int rc_observed_set_str(struct rc_observed *have, char **field, const char *value)
{
    char *d = NULL;

    if (value && !(d = rc_strdup(value)))
        return -RC_ENOMEM;
    free_field(have ? have->shared : NULL, *field);
    *field = d;
    return 0;
}

#define OBS_VM_SEG "/virtualMachines/"

const char *rc_obs_instance_id(const struct rc_obs_instance *x, char *buf, size_t size)
{
    int n;

    if (!x)
        return NULL;
    if (x->id)
        return x->id;
    if (!x->scale_set_id || !x->instance_id || !buf || size == 0)
        return NULL;
    n = snprintf(buf, size, "%s" OBS_VM_SEG "%s", x->scale_set_id, x->instance_id);
    return n >= 0 && (size_t)n < size ? buf : NULL;
}

/* Case-insensitive compare of the first n characters of a with b[0..n). */
static bool eq_ci_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower_c((unsigned char)a[i]) != lower_c((unsigned char)b[i]) || !b[i])
            return false;
    return true;
}

bool rc_obs_instance_id_is(const struct rc_obs_instance *x, const char *id)
{
    size_t ns, nv = strlen(OBS_VM_SEG);

    if (!x || !id)
        return false;
    if (x->id)
        return rc_strcasecmp(x->id, id) == 0;
    if (!x->scale_set_id || !x->instance_id)
        return false;
    ns = strlen(x->scale_set_id);
    return eq_ci_n(x->scale_set_id, id, ns) && eq_ci_n(OBS_VM_SEG, id + ns, nv) &&
           rc_strcasecmp(x->instance_id, id + ns + nv) == 0;
}

const char *rc_inst_state_name(enum rc_inst_state s)
{
    switch (s) {
    case RC_INST_PROVISIONING:
        return "Provisioning";
    case RC_INST_REGISTERING:
        return "Registering";
    case RC_INST_READY:
        return "Ready";
    case RC_INST_DRAINING:
        return "Draining";
    case RC_INST_DELETING:
        return "Deleting";
    case RC_INST_FAILED:
        return "Failed";
    }
    return "Unknown";
}

/* ---- pieces shared by several kinds ---- */

static const char *tag_get(const struct rc_owned *own, const char *name)
{
    for (size_t i = 0; i < own->n_tags; i++)
        if (rc_strcasecmp(own->tags[i].key, name) == 0)
            return own->tags[i].value;
    return NULL;
}

/* Tags into own: in the store (keys and values interned) when in_store, else
 * malloc'd. 0, or -1 (malformed, reported). */
static int parse_owned(struct obs_ctx *c, const json_t *item, struct rc_owned *own, bool in_store)
{
    json_t *tags = jget(item, "tags"), *v;
    const char *k, *s;
    size_t n;

    if (!tags || json_is_null(tags))
        return 0;
    if (!json_is_object(tags)) {
        obs_err(c, "tags", "must be an object");
        return -1;
    }
    n = json_object_size(tags);
    if (n > OBS_TAGS_MAX) {
        obs_err(c, "tags", "too many tags (%zu, at most %d)", n, OBS_TAGS_MAX);
        return -1;
    }
    if (in_store)
        own->tags =
            store(c) ? rc_strtab_alloc(c->have->shared, (n ? n : 1) * sizeof(*own->tags)) : NULL;
    else
        own->tags = calloc(n ? n : 1, sizeof(*own->tags));
    if (!own->tags) {
        c->nomem = true;
        return -1;
    }
    json_object_foreach(tags, k, v)
    {
        char path[RC_ERR_PATH_MAX];

        if (!json_is_string(v)) {
            snprintf(path, sizeof(path), "tags.%s", k);
            obs_err(c, path, "must be a string");
            return -1;
        }
        if (in_store) {
            own->tags[own->n_tags].key = st_intern(c, k);
            own->tags[own->n_tags].value = st_intern(c, json_string_value(v));
        } else {
            own->tags[own->n_tags].key = dup_s(c, k);
            own->tags[own->n_tags].value = dup_s(c, json_string_value(v));
        }
        own->n_tags++;
        if (c->nomem)
            return -1;
    }
    s = tag_get(own, RC_TAG_MANAGED_BY);
    own->managed = s && rc_strcasecmp(s, RC_MANAGED_BY_VALUE) == 0;
    if (in_store) { /* the tag's own (interned) value */
        own->pool = (char *)tag_get(own, RC_TAG_POOL);
        own->owner = (char *)tag_get(own, RC_TAG_OWNER);
    } else {
        own->pool = dup_s(c, tag_get(own, RC_TAG_POOL));
        own->owner = dup_s(c, tag_get(own, RC_TAG_OWNER));
    }
    return c->nomem ? -1 : 0;
}

/* An azpool.* time tag; a bad value is reported and read as 0. */
static int64_t tag_time(struct obs_ctx *c, const struct rc_owned *own, const char *name)
{
    const char *s = tag_get(own, name);
    int64_t t = 0;
    char path[64];

    if (!s)
        return 0;
    if (rc_time_parse(s, &t, NULL) < 0) {
        snprintf(path, sizeof(path), "tags.%s", name);
        obs_err(c, path, "must be an RFC 3339 time, got \"%.64s\" (ignored)", s);
        return 0;
    }
    return t;
}

/* The image string of an imageReference object (see the header comment). */
static int parse_image(struct obs_ctx *c, const json_t *ir, const char *path, char **ret)
{
    const char *id = NULL, *exact = NULL, *pub = NULL, *offer = NULL, *sku = NULL, *ver = NULL;
    char p[RC_ERR_PATH_MAX];
    static const char *const id_keys[] = {"id", "sharedGalleryImageId", "communityGalleryImageId"};

    *ret = NULL;
    if (!ir)
        return 0;
    for (size_t i = 0; i < 3 && !id; i++) {
        snprintf(p, sizeof(p), "%s.%s", path, id_keys[i]);
        if (get_str(c, ir, id_keys[i], p, &id) < 0)
            return -1;
    }
    snprintf(p, sizeof(p), "%s.exactVersion", path);
    if (get_str(c, ir, "exactVersion", p, &exact) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.publisher", path);
    if (get_str(c, ir, "publisher", p, &pub) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.offer", path);
    if (get_str(c, ir, "offer", p, &offer) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.sku", path);
    if (get_str(c, ir, "sku", p, &sku) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s.version", path);
    if (get_str(c, ir, "version", p, &ver) < 0)
        return -1;
    if (id && *id) {
        size_t n = strlen(id);

        while (n > 1 && id[n - 1] == '/')
            n--;
        if (exact && *exact && !find_last_ci(id, "/versions/")) {
            size_t m = n + strlen("/versions/") + strlen(exact) + 1;
            char *s = malloc(m);

            if (!s) {
                c->nomem = true;
                return -1;
            }
            snprintf(s, m, "%.*s/versions/%s", (int)n, id, exact);
            *ret = s;
        } else {
            *ret = dup_s(c, id);
        }
    } else if (pub && offer && sku) {
        size_t m = strlen(pub) + strlen(offer) + strlen(sku) + (ver ? strlen(ver) : 6) + 4;
        char *s = malloc(m);

        if (!s) {
            c->nomem = true;
            return -1;
        }
        snprintf(s, m, "%s:%s:%s:%s", pub, offer, sku, ver ? ver : "latest");
        *ret = s;
    }
    return c->nomem ? -1 : 0;
}

static void set_prefix(struct obs_ctx *c, const char *prefix)
{
    rc_strlcpy(c->prefix, prefix ? prefix : "", sizeof(c->prefix));
}

/* Status codes of an instanceView object. */
struct iv_facts {
    bool has_statuses;
    char *power; /* "running", ... */
    char *prov;  /* from ProvisioningState/xxx */
    bool failed; /* ProvisioningState/failed/<code> */
    bool unhealthy;
};

static int parse_instance_view(struct obs_ctx *c, const json_t *iv, const char *path,
                               struct iv_facts *f)
{
    json_t *st, *h;
    char p[RC_ERR_PATH_MAX];
    const char *code;

    if (!iv)
        return 0;
    st = jget(iv, "statuses");
    if (st && !json_is_null(st)) {
        size_t i;
        json_t *e;

        if (!json_is_array(st)) {
            snprintf(p, sizeof(p), "%s.statuses", path);
            obs_err(c, p, "must be an array");
            return -1;
        }
        f->has_statuses = true;
        json_array_foreach(st, i, e)
        {
            snprintf(p, sizeof(p), "%s.statuses[%zu].code", path, i);
            if (!json_is_object(e)) {
                obs_err(c, p, "status must be an object");
                return -1;
            }
            if (get_str(c, e, "code", p, &code) < 0)
                return -1;
            if (!code)
                continue;
            if (prefix_ci(code, "PowerState/")) {
                free(f->power);
                f->power = dup_s(c, code + strlen("PowerState/"));
            } else if (prefix_ci(code, "ProvisioningState/failed")) {
                f->failed = true;
                free(f->prov);
                f->prov = dup_s(c, "Failed");
            } else if (prefix_ci(code, "ProvisioningState/")) {
                free(f->prov);
                f->prov = dup_s(c, code + strlen("ProvisioningState/"));
            } else if (rc_strcasecmp(code, "HealthState/unhealthy") == 0) {
                f->unhealthy = true;
            }
        }
    }
    h = jget(iv, "vmHealth");
    if (json_is_object(h)) {
        json_t *hs = jget(h, "status");

        if (json_is_object(hs)) {
            snprintf(p, sizeof(p), "%s.vmHealth.status.code", path);
            if (get_str(c, hs, "code", p, &code) < 0)
                return -1;
            if (code && rc_strcasecmp(code, "HealthState/unhealthy") == 0)
                f->unhealthy = true;
        }
    }
    return c->nomem ? -1 : 0;
}

static enum rc_inst_state derive_state(const char *prov, bool failed_status, bool unhealthy,
                                       const char *power)
{
    const char *ps = prov ? prov : "Succeeded";
    bool running = power && rc_strcasecmp(power, "running") == 0;

    if (rc_strcasecmp(ps, "Deleting") == 0)
        return RC_INST_DELETING;
    if (rc_strcasecmp(ps, "Failed") == 0 || failed_status || unhealthy)
        return RC_INST_FAILED;
    if (rc_strcasecmp(ps, "Succeeded") == 0)
        return !power || running ? RC_INST_READY : RC_INST_PROVISIONING;
    if (rc_strcasecmp(ps, "Creating") != 0 && running)
        return RC_INST_READY; /* Updating (or another transient) after a first success */
    return RC_INST_PROVISIONING;
}

/* One extension object (a VM's resources[] entry or a list item). */
static int parse_extension(struct obs_ctx *c, const json_t *e, const char *path,
                           struct rc_obs_extension *x)
{
    const json_t *props;
    const char *name, *pub, *type, *ps;
    char p[RC_ERR_PATH_MAX];

    snprintf(p, sizeof(p), "%s%sname", path, path[0] ? "." : "");
    if (get_str(c, e, "name", p, &name) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s%sproperties", path, path[0] ? "." : "");
    if (get_obj(c, e, "properties", p, &props) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s%sproperties.publisher", path, path[0] ? "." : "");
    if (get_str(c, props, "publisher", p, &pub) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s%sproperties.type", path, path[0] ? "." : "");
    if (get_str(c, props, "type", p, &type) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s%sproperties.provisioningState", path, path[0] ? "." : "");
    if (get_str(c, props, "provisioningState", p, &ps) < 0)
        return -1;
    if (name && strrchr(name, '/'))
        name = strrchr(name, '/') + 1;
    x->name = st_intern(c, name);
    x->publisher = st_intern(c, pub);
    x->type = st_intern(c, type);
    x->provisioning_state = st_intern(c, ps);
    return c->nomem ? -1 : 0;
}

/* ---- kinds ---- */

static int parse_vmss(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct rc_obs_scale_set s;
    const json_t *props = NULL, *sku = NULL, *vmp = NULL, *sp = NULL, *ir = NULL;
    const char *name, *loc, *orch, *ps, *size;
    json_t *cap;

    memset(&s, 0, sizeof(s));
    if (get_str(c, item, "name", "name", &name) < 0 ||
        get_str(c, item, "location", "location", &loc) < 0 ||
        get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_obj(c, item, "sku", "sku", &sku) < 0 ||
        get_str(c, props, "orchestrationMode", "properties.orchestrationMode", &orch) < 0 ||
        get_str(c, props, "provisioningState", "properties.provisioningState", &ps) < 0 ||
        get_str(c, sku, "name", "sku.name", &size) < 0 ||
        get_obj(c, props, "virtualMachineProfile", "properties.virtualMachineProfile", &vmp) < 0 ||
        get_obj(c, vmp, "storageProfile", "properties.virtualMachineProfile.storageProfile", &sp) <
            0 ||
        get_obj(c, sp, "imageReference",
                "properties.virtualMachineProfile.storageProfile.imageReference", &ir) < 0)
        goto bad;
    cap = jget(sku, "capacity");
    if (cap && !json_is_null(cap)) {
        if (!json_is_integer(cap) || json_integer_value(cap) < 0) {
            obs_err(c, "sku.capacity", "must be a non-negative integer");
            goto bad;
        }
        s.capacity = json_integer_value(cap);
    }
    if (parse_image(c, ir, "properties.virtualMachineProfile.storageProfile.imageReference",
                    &s.image) < 0 ||
        parse_owned(c, item, &s.own, true) < 0)
        goto bad;
    s.image = st_intern_take(c, s.image);
    s.id = st_dup(c, id);
    if (name) {
        s.name = st_dup(c, name);
    } else {
        const char *slash = strrchr(id, '/');

        s.name = st_dup(c, slash ? slash + 1 : id);
    }
    s.location = st_intern(c, loc);
    s.orchestration = st_intern(c, orch ? orch : "Uniform");
    s.vm_size = st_intern(c, size);
    s.provisioning_state = st_intern(c, ps);
    /* the tags' own (interned) values */
    s.spec_hash = (char *)tag_get(&s.own, RC_TAG_SPEC_HASH);
    s.halted_image = (char *)tag_get(&s.own, RC_TAG_HALTED_IMAGE);
    s.last_scale_ms = tag_time(c, &s.own, RC_TAG_LAST_SCALE);
    if (c->nomem ||
        OBS_GROW(c->have->scale_sets, c->have->n_scale_sets, c->have->cap_scale_sets) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->have->scale_sets[c->have->n_scale_sets++] = s;
    return 0;
bad:
    scale_set_release(c->have->shared, &s);
    return -1;
}

static int parse_instance(struct obs_ctx *c, const json_t *item, const char *id, bool uniform)
{
    struct rc_obs_instance x;
    struct iv_facts f;
    const json_t *props = NULL, *sp = NULL, *ir = NULL, *os = NULL, *iv = NULL, *vmss = NULL,
                 *np = NULL;
    const char *name, *iid, *vmid, *cn = NULL, *ps, *ssid = NULL;
    json_t *res, *nics;
    int64_t created = 0;
    bool latest = true;

    memset(&x, 0, sizeof(x));
    memset(&f, 0, sizeof(f));
    if (get_str(c, item, "name", "name", &name) < 0 ||
        get_str(c, item, "instanceId", "instanceId", &iid) < 0 ||
        get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_str(c, props, "vmId", "properties.vmId", &vmid) < 0 ||
        get_str(c, props, "provisioningState", "properties.provisioningState", &ps) < 0 ||
        get_time(c, props, "timeCreated", "properties.timeCreated", &created) < 0 ||
        get_obj(c, props, "storageProfile", "properties.storageProfile", &sp) < 0 ||
        get_obj(c, sp, "imageReference", "properties.storageProfile.imageReference", &ir) < 0 ||
        get_obj(c, props, "osProfile", "properties.osProfile", &os) < 0 ||
        get_str(c, os, "computerName", "properties.osProfile.computerName", &cn) < 0 ||
        get_obj(c, props, "instanceView", "properties.instanceView", &iv) < 0 ||
        get_obj(c, props, "virtualMachineScaleSet", "properties.virtualMachineScaleSet", &vmss) <
            0 ||
        get_str(c, vmss, "id", "properties.virtualMachineScaleSet.id", &ssid) < 0 ||
        get_obj(c, props, "networkProfile", "properties.networkProfile", &np) < 0 ||
        get_bool(c, props, "latestModelApplied", "properties.latestModelApplied", true, &latest) <
            0)
        goto bad;
    x.latest_model = latest;
    if (!cn && iv &&
        get_str(c, iv, "computerName", "properties.instanceView.computerName", &cn) < 0)
        goto bad;
    /* the generic resources list ($expand=createdTime,provisioningState) puts
     * both at the top level */
    if (!created && get_time(c, item, "createdTime", "createdTime", &created) < 0)
        goto bad;
    if (!ps && get_str(c, item, "provisioningState", "provisioningState", &ps) < 0)
        goto bad;
    if (parse_instance_view(c, iv, "properties.instanceView", &f) < 0 ||
        parse_image(c, ir, "properties.storageProfile.imageReference", &x.image) < 0 ||
        parse_owned(c, item, &x.own, true) < 0)
        goto bad;
    nics = jget(np, "networkInterfaces");
    if (nics && !json_is_null(nics)) {
        size_t i;
        json_t *e;
        const char *first = NULL, *primary = NULL;

        if (!json_is_array(nics)) {
            obs_err(c, "properties.networkProfile.networkInterfaces", "must be an array");
            goto bad;
        }
        json_array_foreach(nics, i, e)
        {
            char p[RC_ERR_PATH_MAX];
            const char *nid;
            bool prim = false;
            json_t *pp = jget(e, "properties");

            snprintf(p, sizeof(p), "properties.networkProfile.networkInterfaces[%zu].id", i);
            if (!json_is_object(e) || get_str(c, e, "id", p, &nid) < 0) {
                if (!json_is_object(e))
                    obs_err(c, p, "network interface must be an object");
                goto bad;
            }
            if (json_is_object(pp)) {
                snprintf(p, sizeof(p),
                         "properties.networkProfile.networkInterfaces[%zu].properties.primary", i);
                if (get_bool(c, pp, "primary", p, false, &prim) < 0)
                    goto bad;
            }
            if (nid && !first)
                first = nid;
            if (nid && prim && !primary)
                primary = nid;
        }
        x.nic_id = st_dup(c, primary ? primary : first);
    }
    res = jget(item, "resources");
    if (res && json_is_array(res) && json_array_size(res) > 0) {
        size_t i;
        json_t *e;

        x.extensions = calloc(json_array_size(res), sizeof(*x.extensions));
        if (!x.extensions) {
            c->nomem = true;
            goto bad;
        }
        json_array_foreach(res, i, e)
        {
            char p[RC_ERR_PATH_MAX];

            snprintf(p, sizeof(p), "resources[%zu]", i);
            if (!json_is_object(e)) {
                obs_err(c, p, "must be an object");
                goto bad;
            }
            if (parse_extension(c, e, p, &x.extensions[x.n_extensions]) < 0) {
                ext_release(c->have->shared, &x.extensions[x.n_extensions]);
                goto bad;
            }
            x.n_extensions++;
        }
    }

    if (uniform) {
        const char *v = find_last_ci(id, "/virtualMachines/");
        const char *last = v + strlen("/virtualMachines/");
        const char *ss = find_last_ci(id, "/virtualMachineScaleSets/");

        x.scale_set_id = st_intern_n(c, id, (size_t)(v - id));
        x.instance_id = st_intern(c, iid ? iid : last);
        /* the canonical id is rebuilt on demand (rc_obs_instance_id) */
        if (strncmp(v, "/virtualMachines/", strlen("/virtualMachines/")) != 0 || !x.instance_id ||
            strcmp(x.instance_id, last) != 0)
            x.id = st_dup(c, id);
        if (name) {
            x.name = st_dup(c, name);
        } else if (x.instance_id) {
            size_t m = (size_t)(v - ss) + strlen(x.instance_id) + 2;
            char *s = malloc(m);

            if (!s) {
                c->nomem = true;
                goto bad;
            }
            ss += strlen("/virtualMachineScaleSets/");
            snprintf(s, m, "%.*s_%s", (int)(v - ss), ss, x.instance_id);
            x.name = st_dup(c, s);
            free(s);
        }
    } else {
        const char *slash = strrchr(id, '/');

        x.id = st_dup(c, id);
        x.name = st_dup(c, name ? name : (slash ? slash + 1 : id));
        if (ssid && *ssid) {
            x.scale_set_id = st_intern(c, ssid);
            x.instance_id = st_dup(c, iid ? iid : x.name);
        }
    }
    x.vm_id = st_dup(c, vmid);
    x.computer_name = st_dup(c, cn);
    if (ps)
        x.provisioning_state = st_intern(c, ps);
    else
        x.provisioning_state = st_intern(c, f.prov);
    x.power_state = st_intern(c, f.power);
    x.image = st_intern_take(c, x.image);
    x.unhealthy = f.unhealthy;
    x.state = derive_state(x.provisioning_state, f.failed, f.unhealthy, x.power_state);
    x.created_ms = created ? created : tag_time(c, &x.own, RC_TAG_CREATED_AT);
    x.expires_ms = tag_time(c, &x.own, RC_TAG_EXPIRES_AT);
    x.draining_since_ms = tag_time(c, &x.own, RC_TAG_DRAINING);
    x.spec_hash = (char *)tag_get(&x.own, RC_TAG_SPEC_HASH); /* the tag's interned value */
    {
        const char *b = tag_get(&x.own, RC_TAG_BUSY);

        x.busy = b && rc_strcasecmp(b, "true") == 0;
    }
    if (c->nomem ||
        OBS_GROW(c->have->instances, c->have->n_instances, c->have->cap_instances) < 0) {
        c->nomem = true;
        goto bad;
    }
    free(f.prov);
    free(f.power);
    c->have->instances[c->have->n_instances++] = x;
    return 0;
bad:
    free(f.power);
    free(f.prov);
    instance_release(c->have->shared, &x);
    return -1;
}

static int parse_nic(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct rc_obs_nic n;
    const json_t *props = NULL, *vm = NULL;
    const char *name, *vmid = NULL, *ps;

    memset(&n, 0, sizeof(n));
    if (get_str(c, item, "name", "name", &name) < 0 ||
        get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_str(c, props, "provisioningState", "properties.provisioningState", &ps) < 0 ||
        get_obj(c, props, "virtualMachine", "properties.virtualMachine", &vm) < 0 ||
        get_str(c, vm, "id", "properties.virtualMachine.id", &vmid) < 0 ||
        parse_owned(c, item, &n.own, false) < 0)
        goto bad;
    n.id = dup_s(c, id);
    n.name = dup_s(c, name ? name : strrchr(id, '/') + 1);
    n.vm_id = dup_s(c, vmid);
    n.provisioning_state = dup_s(c, ps);
    if (c->nomem || OBS_GROW(c->have->nics, c->have->n_nics, c->have->cap_nics) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->have->nics[c->have->n_nics++] = n;
    return 0;
bad:
    nic_release(c->have->shared, &n);
    return -1;
}

static int parse_worker(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct rc_obs_worker w;
    const json_t *props = NULL;
    const char *name, *vmid;
    const char *g = find_last_ci(id, "/hybridRunbookWorkers/");

    memset(&w, 0, sizeof(w));
    if (get_str(c, item, "name", "name", &name) < 0 ||
        get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_str(c, props, "vmResourceId", "properties.vmResourceId", &vmid) < 0)
        goto bad;
    w.id = dup_s(c, id);
    w.name = dup_s(c, name ? name : strrchr(id, '/') + 1);
    w.group_id = g ? dup_n(c, id, (size_t)(g - id)) : NULL;
    w.vm_resource_id = dup_s(c, vmid);
    if (c->nomem || OBS_GROW(c->have->workers, c->have->n_workers, c->have->cap_workers) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->have->workers[c->have->n_workers++] = w;
    return 0;
bad:
    worker_release(&w);
    return -1;
}

static int parse_group(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct rc_obs_worker_group g;
    const char *name;

    memset(&g, 0, sizeof(g));
    if (get_str(c, item, "name", "name", &name) < 0)
        goto bad;
    g.id = dup_s(c, id);
    g.name = dup_s(c, name ? name : strrchr(id, '/') + 1);
    if (c->nomem || OBS_GROW(c->have->groups, c->have->n_groups, c->have->cap_groups) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->have->groups[c->have->n_groups++] = g;
    return 0;
bad:
    group_release(&g);
    return -1;
}

static int parse_image_version(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct rc_obs_image_version v;
    const json_t *props = NULL, *pp = NULL;
    const char *name, *ps;
    const char *vs = find_last_ci(id, "/versions/");

    memset(&v, 0, sizeof(v));
    if (get_str(c, item, "name", "name", &name) < 0 ||
        get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_str(c, props, "provisioningState", "properties.provisioningState", &ps) < 0 ||
        get_obj(c, props, "publishingProfile", "properties.publishingProfile", &pp) < 0 ||
        get_bool(c, pp, "excludeFromLatest", "properties.publishingProfile.excludeFromLatest",
                 false, &v.exclude_from_latest) < 0 ||
        get_time(c, pp, "publishedDate", "properties.publishingProfile.publishedDate",
                 &v.published_ms) < 0)
        goto bad;
    v.id = dup_s(c, id);
    v.image_definition_id = vs ? dup_n(c, id, (size_t)(vs - id)) : NULL;
    v.name = dup_s(c, name ? name : strrchr(id, '/') + 1);
    v.provisioning_state = dup_s(c, ps);
    if (c->nomem || OBS_GROW(c->have->image_versions, c->have->n_image_versions,
                             c->have->cap_image_versions) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->have->image_versions[c->have->n_image_versions++] = v;
    return 0;
bad:
    image_version_release(&v);
    return -1;
}

static int parse_template(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct rc_obs_image_template t;
    const json_t *props = NULL, *lr = NULL;
    const char *rs = NULL, *msg = NULL;

    memset(&t, 0, sizeof(t));
    if (get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_obj(c, props, "lastRunStatus", "properties.lastRunStatus", &lr) < 0 ||
        get_str(c, lr, "runState", "properties.lastRunStatus.runState", &rs) < 0 ||
        get_str(c, lr, "message", "properties.lastRunStatus.message", &msg) < 0 ||
        get_time(c, lr, "startTime", "properties.lastRunStatus.startTime", &t.run_start_ms) < 0 ||
        get_time(c, lr, "endTime", "properties.lastRunStatus.endTime", &t.run_end_ms) < 0)
        goto bad;
    t.id = dup_s(c, id);
    t.run_state = dup_s(c, rs);
    t.run_message = dup_s(c, msg);
    if (c->nomem ||
        OBS_GROW(c->have->templates, c->have->n_templates, c->have->cap_templates) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->have->templates[c->have->n_templates++] = t;
    return 0;
bad:
    template_release(&t);
    return -1;
}

static int parse_run_output(struct obs_ctx *c, const json_t *item, const char *id)
{
    const json_t *props = NULL;
    const char *art;
    const char *ro = find_last_ci(id, "/runOutputs/");

    if (get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_str(c, props, "artifactId", "properties.artifactId", &art) < 0)
        return -1;
    if (!art || !ro)
        return 0;
    if (OBS_GROW(c->outs, c->n_outs, c->cap_outs) < 0) {
        c->nomem = true;
        return -1;
    }
    c->outs[c->n_outs].template_id = dup_n(c, id, (size_t)(ro - id));
    c->outs[c->n_outs].artifact_id = dup_s(c, art);
    c->n_outs++;
    return c->nomem ? -1 : 0;
}

static int job_attempt(const char *vm_id, const char *job_name)
{
    char key[OBS_STR_MAX + 16], uuid[37];
    size_t n;

    if (!vm_id || !job_name || strlen(vm_id) > OBS_STR_MAX)
        return 0;
    n = strlen(vm_id);
    for (size_t i = 0; i < n; i++)
        key[i] = (char)lower_c((unsigned char)vm_id[i]);
    for (int a = 1; a <= OBS_JOB_ATTEMPTS_MAX; a++) {
        snprintf(key + n, sizeof(key) - n, "#%d", a);
        rc_uuid5(rc_uuid_ns_azpool, key, uuid, sizeof(uuid));
        if (rc_strcasecmp(uuid, job_name) == 0)
            return a;
    }
    return 0;
}

static int parse_job(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct rc_obs_job j;
    const json_t *props = NULL, *rb = NULL, *params = NULL;
    const char *name, *rbn = NULL, *status, *vm = NULL;

    memset(&j, 0, sizeof(j));
    if (get_str(c, item, "name", "name", &name) < 0 ||
        get_obj(c, item, "properties", "properties", &props) < 0 ||
        get_obj(c, props, "runbook", "properties.runbook", &rb) < 0 ||
        get_str(c, rb, "name", "properties.runbook.name", &rbn) < 0 ||
        get_str(c, props, "status", "properties.status", &status) < 0 ||
        get_obj(c, props, "parameters", "properties.parameters", &params) < 0 ||
        get_str(c, params, RC_ARM_JOB_PARAM_VM, "properties.parameters." RC_ARM_JOB_PARAM_VM, &vm) <
            0 ||
        get_time(c, props, "creationTime", "properties.creationTime", &j.created_ms) < 0)
        goto bad;
    j.id = dup_s(c, id);
    j.name = dup_s(c, name ? name : strrchr(id, '/') + 1);
    j.runbook = dup_s(c, rbn);
    j.status = dup_s(c, status);
    j.instance_id = dup_s(c, vm);
    j.attempt = job_attempt(vm, j.name);
    if (c->nomem || OBS_GROW(c->have->jobs, c->have->n_jobs, c->have->cap_jobs) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->have->jobs[c->have->n_jobs++] = j;
    return 0;
bad:
    job_release(&j);
    return -1;
}

static int parse_ext_item(struct obs_ctx *c, const json_t *item, const char *id)
{
    struct pending_ext pe;
    const char *e = find_last_ci(id, "/extensions/");

    memset(&pe, 0, sizeof(pe));
    if (!e)
        return 0;
    if (parse_extension(c, item, "", &pe.ext) < 0)
        goto bad;
    if (!pe.ext.name)
        pe.ext.name = st_intern(c, e + strlen("/extensions/"));
    pe.parent_id = dup_n(c, id, (size_t)(e - id));
    if (c->nomem || OBS_GROW(c->exts, c->n_exts, c->cap_exts) < 0) {
        c->nomem = true;
        goto bad;
    }
    c->exts[c->n_exts++] = pe;
    return 0;
bad:
    free(pe.parent_id);
    ext_release(c->have->shared, &pe.ext);
    return -1;
}

/* Attaches the pending extensions and run outputs; frees the pending lists. */
static void settle_pending(struct obs_ctx *c)
{
    struct rc_observed *h = c->have;

    for (size_t i = 0; i < c->n_exts; i++) {
        struct pending_ext *pe = &c->exts[i];
        struct rc_obs_instance *x = NULL;

        for (size_t k = 0; k < h->n_instances && !c->nomem; k++)
            if (rc_obs_instance_id_is(&h->instances[k], pe->parent_id))
                x = &h->instances[k];
        if (x) {
            struct rc_obs_extension *v = realloc(x->extensions, (x->n_extensions + 1) * sizeof(*v));

            if (v) {
                x->extensions = v;
                v[x->n_extensions++] = pe->ext;
                memset(&pe->ext, 0, sizeof(pe->ext));
            } else {
                c->nomem = true;
            }
        }
        ext_release(h->shared, &pe->ext);
        free(pe->parent_id);
    }
    free(c->exts);
    c->exts = NULL;
    c->n_exts = c->cap_exts = 0;
    for (size_t i = 0; i < c->n_outs; i++) {
        struct pending_output *po = &c->outs[i];

        for (size_t k = 0; k < h->n_templates; k++) {
            struct rc_obs_image_template *t = &h->templates[k];

            if (t->id && po->template_id && rc_strcasecmp(t->id, po->template_id) == 0) {
                free(t->artifact_id);
                t->artifact_id = po->artifact_id;
                po->artifact_id = NULL;
                break;
            }
        }
        free(po->template_id);
        free(po->artifact_id);
    }
    free(c->outs);
    c->outs = NULL;
    c->n_outs = c->cap_outs = 0;
}

/* One item. Returns 0 (added, skipped or malformed and reported), or a
 * negative code that ends the call (-RC_ENOMEM, -RC_ELIMIT). */
static int observe_item(struct obs_ctx *c, const json_t *item)
{
    const char *id = NULL, *type = NULL;
    char t[OBS_TYPE_MAX];
    enum obs_kind kind = OBS_UNKNOWN;
    int r = 0;

    if (!json_is_object(item)) {
        obs_err(c, "", "resource must be an object");
        return 0;
    }
    if (get_str(c, item, "id", "id", &id) < 0 || get_str(c, item, "type", "type", &type) < 0)
        return 0;
    if (id) {
        id_type(id, t, sizeof(t));
        kind = kind_of_type(t);
    }
    if (kind == OBS_UNKNOWN && type) {
        kind = kind_of_type(type);
        /* a Uniform instance listed with type virtualMachines but an id we did
         * not recognise stays a VM; ids decide when they can */
    }
    if (kind == OBS_UNKNOWN)
        return 0;
    if (!id || !*id) {
        obs_err(c, "id", "missing resource id (type %.80s)", type ? type : "?");
        return 0;
    }
    if (id[0] != '/' || strlen(id) > OBS_STR_MAX) {
        obs_err(c, "id", "not an ARM resource id: \"%.80s\"", id);
        return 0;
    }
    if (kind == OBS_VM && find_last_ci(id, "/virtualMachineScaleSets/") &&
        find_last_ci(id, "/virtualMachines/") > find_last_ci(id, "/virtualMachineScaleSets/"))
        kind = OBS_VMSS_VM;
    if (kind == OBS_VMSS_VM &&
        (!find_last_ci(id, "/virtualMachineScaleSets/") ||
         find_last_ci(id, "/virtualMachines/") < find_last_ci(id, "/virtualMachineScaleSets/"))) {
        obs_err(c, "id", "a scale set instance id must end in /virtualMachines/{instanceId}");
        return 0;
    }
    if (kind != OBS_EXTENSION && kind != OBS_RUN_OUTPUT &&
        n_resources(c->have) >= RC_OBSERVED_MAX) {
        obs_err(c, "", "more than %d resources", RC_OBSERVED_MAX);
        return -RC_ELIMIT;
    }
    switch (kind) {
    case OBS_VMSS:
        r = parse_vmss(c, item, id);
        break;
    case OBS_VMSS_VM:
        r = parse_instance(c, item, id, true);
        break;
    case OBS_VM:
        r = parse_instance(c, item, id, false);
        break;
    case OBS_NIC:
        r = parse_nic(c, item, id);
        break;
    case OBS_EXTENSION:
        r = parse_ext_item(c, item, id);
        break;
    case OBS_WORKER:
        r = parse_worker(c, item, id);
        break;
    case OBS_GROUP:
        r = parse_group(c, item, id);
        break;
    case OBS_IMAGE_VERSION:
        r = parse_image_version(c, item, id);
        break;
    case OBS_TEMPLATE:
        r = parse_template(c, item, id);
        break;
    case OBS_RUN_OUTPUT:
        r = parse_run_output(c, item, id);
        break;
    case OBS_JOB:
        r = parse_job(c, item, id);
        break;
    case OBS_UNKNOWN:
        break;
    }
    (void)r;
    return c->nomem ? -RC_ENOMEM : 0;
}

static int observe_doc(struct obs_ctx *c, const json_t *doc)
{
    json_t *value, *item;
    size_t i;
    int r = 0;

    if (!json_is_object(doc)) {
        set_prefix(c, "");
        obs_err(c, "", "ARM response must be a JSON object");
        return -RC_EPROTO;
    }
    value = json_object_get(doc, "value");
    if (value && json_is_array(value) && json_array_size(value) > RC_OBSERVE_DOC_MAX) {
        set_prefix(c, "value");
        obs_err(c, "", "too many resources in one response (%zu, at most %d)",
                json_array_size(value), RC_OBSERVE_DOC_MAX);
        r = -RC_ELIMIT;
    } else if (value && json_is_array(value)) {
        json_array_foreach(value, i, item)
        {
            char p[48];

            snprintf(p, sizeof(p), "value[%zu]", i);
            set_prefix(c, p);
            r = observe_item(c, item);
            if (r < 0)
                break;
        }
    } else if (value && !json_is_null(value) && !json_object_get(doc, "id")) {
        set_prefix(c, "value");
        obs_err(c, "", "must be an array");
        r = -RC_EPROTO;
    } else if (json_object_get(doc, "error") && !json_object_get(doc, "id")) {
        json_t *e = json_object_get(doc, "error");
        json_t *code = json_is_object(e) ? json_object_get(e, "code") : NULL;

        set_prefix(c, "error");
        obs_err(c, "", "ARM returned an error: %.80s",
                json_is_string(code) ? json_string_value(code) : "(no code)");
        r = -RC_EPROTO;
    } else {
        set_prefix(c, "");
        r = observe_item(c, doc);
    }
    settle_pending(c);
    if (c->nomem)
        return -RC_ENOMEM;
    return r;
}

int rc_observe_arm(struct rc_observed *have, const json_t *doc, struct rc_errs *errs)
{
    struct obs_ctx c;

    memset(&c, 0, sizeof(c));
    c.have = have;
    c.errs = errs;
    return observe_doc(&c, doc);
}

int rc_observe_arm_text(struct rc_observed *have, const char *file, const char *json, size_t len,
                        struct rc_errs *errs)
{
    struct obs_ctx c;
    json_error_t jerr;
    json_t *doc;
    int r;

    memset(&c, 0, sizeof(c));
    c.have = have;
    c.errs = errs;
    c.file = file;
    if (len > OBS_TEXT_MAX) {
        obs_err(&c, "", "ARM response is too large (%zu bytes, at most %u)", len, OBS_TEXT_MAX);
        return -RC_ELIMIT;
    }
    doc = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (errs) {
            struct rc_err e;

            memset(&e, 0, sizeof(e));
            rc_err_set(&e, -RC_EPROTO, "", "ARM response is not JSON: %s", jerr.text);
            rc_err_at(&e, file, jerr.line > 0 ? jerr.line : 0, jerr.column > 0 ? jerr.column : 0);
            rc_errs_push(errs, &e);
        }
        return -RC_EPROTO;
    }
    r = observe_doc(&c, doc);
    json_decref(doc);
    return r;
}

/* ---- pool facts ---- */

struct rc_obs_pool *rc_observed_pool(struct rc_observed *have, const char *pool)
{
    struct rc_obs_pool *p;

    if (!have || !pool)
        return NULL;
    for (size_t i = 0; i < have->n_pools; i++)
        if (have->pools[i].pool && strcmp(have->pools[i].pool, pool) == 0)
            return &have->pools[i];
    if (OBS_GROW(have->pools, have->n_pools, have->cap_pools) < 0)
        return NULL;
    p = &have->pools[have->n_pools];
    memset(p, 0, sizeof(*p));
    p->pool = rc_strdup(pool);
    if (!p->pool)
        return NULL;
    p->desired_replicas = -1;
    have->n_pools++;
    return p;
}

/* ---- deep copy ---- */

struct cp {
    bool fail;
};

static char *cs(struct cp *k, const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = rc_strdup(s);
    if (!d)
        k->fail = true;
    return d;
}

static void *cmem(struct cp *k, const void *src, size_t n, size_t elem)
{
    void *d;

    if (!src || n == 0)
        return NULL;
    d = calloc(n, elem);
    if (!d)
        k->fail = true;
    return d;
}

static void copy_kv(struct cp *k, const struct rc_kv *s, uint32_t n, struct rc_kv **ret,
                    uint32_t *ret_n)
{
    struct rc_kv *d = cmem(k, s, n, sizeof(*d));

    *ret = d;
    *ret_n = 0;
    if (!d)
        return;
    for (uint32_t i = 0; i < n; i++) {
        d[i].key = cs(k, s[i].key);
        d[i].value = cs(k, s[i].value);
    }
    *ret_n = n;
}

static void copy_owned(struct cp *k, const struct rc_owned *s, struct rc_owned *d)
{
    d->managed = s->managed;
    d->pool = cs(k, s->pool);
    d->owner = cs(k, s->owner);
    copy_kv(k, s->tags, s->n_tags, &d->tags, &d->n_tags);
}

static void copy_strv(struct cp *k, char *const *s, size_t n, char ***ret, size_t *ret_n)
{
    char **d = cmem(k, s, n, sizeof(*d));

    *ret = d;
    *ret_n = 0;
    if (!d)
        return;
    for (size_t i = 0; i < n; i++)
        d[i] = cs(k, s[i]);
    *ret_n = n;
}

static void copy_instance(struct cp *k, const struct rc_obs_instance *s, struct rc_obs_instance *d)
{
    *d = *s;
    d->id = cs(k, s->id);
    d->name = cs(k, s->name);
    d->instance_id = cs(k, s->instance_id);
    d->scale_set_id = cs(k, s->scale_set_id);
    d->vm_id = cs(k, s->vm_id);
    d->computer_name = cs(k, s->computer_name);
    d->image = cs(k, s->image);
    d->spec_hash = cs(k, s->spec_hash);
    d->provisioning_state = cs(k, s->provisioning_state);
    d->power_state = cs(k, s->power_state);
    d->nic_id = cs(k, s->nic_id);
    d->extensions = cmem(k, s->extensions, s->n_extensions, sizeof(*d->extensions));
    d->n_extensions = 0;
    if (d->extensions) {
        for (size_t i = 0; i < s->n_extensions; i++) {
            d->extensions[i].name = cs(k, s->extensions[i].name);
            d->extensions[i].publisher = cs(k, s->extensions[i].publisher);
            d->extensions[i].type = cs(k, s->extensions[i].type);
            d->extensions[i].provisioning_state = cs(k, s->extensions[i].provisioning_state);
        }
        d->n_extensions = s->n_extensions;
    }
    memset(&d->own, 0, sizeof(d->own));
    copy_owned(k, &s->own, &d->own);
}

static void copy_scale_set(struct cp *k, const struct rc_obs_scale_set *s,
                           struct rc_obs_scale_set *d)
{
    *d = *s;
    d->id = cs(k, s->id);
    d->name = cs(k, s->name);
    d->location = cs(k, s->location);
    d->orchestration = cs(k, s->orchestration);
    d->vm_size = cs(k, s->vm_size);
    d->image = cs(k, s->image);
    d->spec_hash = cs(k, s->spec_hash);
    d->halted_image = cs(k, s->halted_image);
    d->provisioning_state = cs(k, s->provisioning_state);
    memset(&d->own, 0, sizeof(d->own));
    copy_owned(k, &s->own, &d->own);
}

static void copy_nic(struct cp *k, const struct rc_obs_nic *s, struct rc_obs_nic *d)
{
    *d = *s;
    d->id = cs(k, s->id);
    d->name = cs(k, s->name);
    d->vm_id = cs(k, s->vm_id);
    d->provisioning_state = cs(k, s->provisioning_state);
    memset(&d->own, 0, sizeof(d->own));
    copy_owned(k, &s->own, &d->own);
}

static void copy_worker(struct cp *k, const struct rc_obs_worker *s, struct rc_obs_worker *d)
{
    d->id = cs(k, s->id);
    d->name = cs(k, s->name);
    d->group_id = cs(k, s->group_id);
    d->vm_resource_id = cs(k, s->vm_resource_id);
}

static void copy_group(struct cp *k, const struct rc_obs_worker_group *s,
                       struct rc_obs_worker_group *d)
{
    d->id = cs(k, s->id);
    d->name = cs(k, s->name);
}

static void copy_image_version(struct cp *k, const struct rc_obs_image_version *s,
                               struct rc_obs_image_version *d)
{
    *d = *s;
    d->id = cs(k, s->id);
    d->image_definition_id = cs(k, s->image_definition_id);
    d->name = cs(k, s->name);
    d->provisioning_state = cs(k, s->provisioning_state);
}

static void copy_template(struct cp *k, const struct rc_obs_image_template *s,
                          struct rc_obs_image_template *d)
{
    *d = *s;
    d->id = cs(k, s->id);
    d->run_state = cs(k, s->run_state);
    d->run_message = cs(k, s->run_message);
    d->artifact_id = cs(k, s->artifact_id);
}

static void copy_job(struct cp *k, const struct rc_obs_job *s, struct rc_obs_job *d)
{
    *d = *s;
    d->id = cs(k, s->id);
    d->name = cs(k, s->name);
    d->runbook = cs(k, s->runbook);
    d->status = cs(k, s->status);
    d->instance_id = cs(k, s->instance_id);
}

static void copy_pool(struct cp *k, const struct rc_obs_pool *s, struct rc_obs_pool *d)
{
    *d = *s;
    d->pool = cs(k, s->pool);
    d->halted_image = cs(k, s->halted_image);
    copy_strv(k, s->busy, s->n_busy, &d->busy, &d->n_busy);
    copy_strv(k, s->job_done, s->n_job_done, &d->job_done, &d->n_job_done);
}

/* Copies array src[0..n) into a new array with copy function fn. */
#define OBS_COPY_ARRAY(k, src, n, dst, dn, dcap, fn)                                               \
    do {                                                                                           \
        (dst) = cmem((k), (src), (n), sizeof(*(dst)));                                             \
        if (dst) {                                                                                 \
            for (size_t i_ = 0; i_ < (n); i_++)                                                    \
                fn((k), &(src)[i_], &(dst)[i_]);                                                   \
            (dn) = (dcap) = (n);                                                                   \
        }                                                                                          \
    } while (0)

int rc_observed_copy(const struct rc_observed *src, struct rc_observed *ret)
{
    struct cp k = {false};

    memset(ret, 0, sizeof(*ret));
    if (!src)
        return 0;
    OBS_COPY_ARRAY(&k, src->scale_sets, src->n_scale_sets, ret->scale_sets, ret->n_scale_sets,
                   ret->cap_scale_sets, copy_scale_set);
    OBS_COPY_ARRAY(&k, src->instances, src->n_instances, ret->instances, ret->n_instances,
                   ret->cap_instances, copy_instance);
    OBS_COPY_ARRAY(&k, src->nics, src->n_nics, ret->nics, ret->n_nics, ret->cap_nics, copy_nic);
    OBS_COPY_ARRAY(&k, src->workers, src->n_workers, ret->workers, ret->n_workers, ret->cap_workers,
                   copy_worker);
    OBS_COPY_ARRAY(&k, src->groups, src->n_groups, ret->groups, ret->n_groups, ret->cap_groups,
                   copy_group);
    OBS_COPY_ARRAY(&k, src->image_versions, src->n_image_versions, ret->image_versions,
                   ret->n_image_versions, ret->cap_image_versions, copy_image_version);
    OBS_COPY_ARRAY(&k, src->templates, src->n_templates, ret->templates, ret->n_templates,
                   ret->cap_templates, copy_template);
    OBS_COPY_ARRAY(&k, src->jobs, src->n_jobs, ret->jobs, ret->n_jobs, ret->cap_jobs, copy_job);
    OBS_COPY_ARRAY(&k, src->pools, src->n_pools, ret->pools, ret->n_pools, ret->cap_pools,
                   copy_pool);
    if (k.fail) {
        rc_observed_release(ret);
        return -RC_ENOMEM;
    }
    return 0;
}
