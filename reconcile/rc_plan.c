/*
 * rc_plan.c - the planner (see rc_plan.h for the contract).
 *
 * Decisions (recorded here on purpose; others build on them):
 *
 *  - One pass per pool: resolve the target image, collect the owned instances,
 *    classify them, decide (rp_decide), then emit mode-specific writes
 *    (rc_plan_vmss.c, rc_plan_vm.c). Pools are planned in want order; the plan
 *    is sorted at the end by (pool, wave, verb, target, key).
 *  - Ownership: an instance is ours when it carries azpool.managed-by=azpool and
 *    azpool.pool=<ns>/<name>, or (ScaleSet mode) when it belongs to our owned
 *    VMSS (a Uniform instance is owned through its scale set). A VMSS with our
 *    name but without the tags is never touched: the pool is Stalled
 *    (NotOwned) until it carries them, or until the pool has the annotation
 *    azpool.dev/adopt: "true" (DESIGN.md §4 rule 1): then the scale set is
 *    adopted by PUTting our model with our tags (its instances roll as
 *    outdated). A scale set tagged for another pool is never adopted.
 *  - Flexible scale sets: instances are deleted and reimaged per VM (batch
 *    instance operations do not apply to Flexible); capacity is still one
 *    PATCH.
 *  - A busy victim is tagged azpool.draining-since as soon as it is chosen
 *    (the worker takes no new job), even while its deletion also waits for
 *    a Ready replacement.
 *  - Target image: imageRef -> ImageVersion (pinned version, or "latest" =
 *    highest semver among Succeeded, not excludeFromLatest observed versions of
 *    the definition); or spec.image.id; or the marketplace quadruple, written as
 *    "publisher:offer:sku:version" (rc_arm_image_string; rc_arm takes both
 *    forms). Unresolvable: nothing planned, Stalled ImageNotFound.
 *  - Outdated = runs another image than the target, or the model is not
 *    applied (latestModelApplied false after a model change) or its spec hash
 *    differs. Outdated instances are replaced by surge: create, wait Ready,
 *    delete; never reimaged for a rollout.
 *  - Except after a halted rollout (ScaleSet Uniform): the model went to the
 *    halted image and back, so Azure (and armsim) report latestModelApplied
 *    false on instances that never left the old image. The halt's model write
 *    records azpool.halted-spec-hash (the spec hash of the restored model)
 *    next to azpool.halted-image. While the scale set carries both, its model
 *    image is the target and its spec hash is the current one and the one the
 *    halt restored, such an instance on the target image is up to date: not
 *    outdated, counted as updated, never replaced, and no write is planned
 *    for it (a manualupgrade would gain nothing: same image, same spec; it
 *    is replaced by the next real model change like the others). This holds
 *    whether the manifest still names the halted image or went back to the
 *    old one; tag writes keep both tags while such instances exist. A spec
 *    change written after the halt (spec hash differs from the halted one),
 *    or a halt recorded without the hash (older scale sets), leaves
 *    latestModelApplied false meaning outdated (rolled by surge).
 *  - The generic step (rp_decide): failed instances are deleted at once; the
 *    rest must converge to `desired` instances that are not old. Candidates for
 *    removal (old ones, then the surplus of good ones in victim order) are
 *    deleted when not busy (busy: drained first, deleted when idle or after
 *    drain.timeoutSeconds; forceAfter overrides) and when the number of Ready
 *    instances stays >= desired - maxUnavailable. Then creates =
 *    min(desired - good, desired + maxSurge - live). maxSurge and
 *    maxUnavailable both 0 would deadlock: maxSurge is then taken as 1.
 *  - Expiry: expires = rc_expiry_at (deterministic jitter). An instance is
 *    expiring once now >= expires - replaceBefore. Expiring instances are
 *    chosen for replacement only inside a maintenance window (or when past
 *    forceAfter, which also ignores busy), in order of expiry: the first
 *    disruptionBudget.maxUnavailable of them, where expiring instances that
 *    are Failed or already Deleting keep their place (a disruption in flight)
 *    until they are gone. The choice is stable while the chosen instance
 *    exists (its replacement provisioning, itself draining or being deleted
 *    does not release it), so a busy expired instance keeps its replacement
 *    and this plan's own deletes never change the choice. A budget resolving to 0 is
 *    taken as 1 so that a pool always progresses. Actual unavailability is
 *    bounded by maxUnavailable (deletes wait for Ready replacements).
 *  - Deletes take effect as Deleting (the instance stays listed for a while);
 *    flags that decide a choice (expiring, outdated, recycle) are computed
 *    for every state, so "apply, then plan again" stays empty.
 *  - Canary: while a rollout of the target image is in progress and fewer than
 *    canary.replicas instances on the target have been Ready for soakSeconds
 *    (measured from their creation time: Azure does not report when an
 *    instance became Ready), only canary.replicas instances go to the new
 *    image and no old instance is removed (except to make room when maxSurge
 *    is 0). A Failed instance on the target during that phase halts the
 *    rollout: ScaleSet mode writes azpool.halted-image and the previous model
 *    image back onto the VMSS; VirtualMachines mode reports it in
 *    status.halted_image (the controller keeps it in the pool status and
 *    hands it back as rc_obs_pool.halted_image). While the desired image
 *    equals the halted image, the previous image stays the target
 *    (Degraded, RolloutHalted); a new desired image clears the halt.
 *  - Autoscale: current = rc_obs_pool.desired_replicas (the last decision,
 *    which the controller keeps in status.desiredReplicas and hands back),
 *    else the live instances (live counts surge and outdated instances, which
 *    would feed back into the decision). Last scale-out/in times from
 *    rc_obs_pool (else the VMSS tag for both). A changed decision is a
 *    scaling write: it carries azpool.last-scale-time (ScaleSet) and
 *    status.last_scale_ms.
 *  - recycleAfterJob: instances named in rc_obs_pool.job_done are reimaged
 *    (POST reimage with explicit ids) or replaced (deleted; the refill comes
 *    from the normal size rule). Busy ones wait.
 *  - list_failed: nothing is planned for that pool (not even creates, which
 *    could duplicate), status Unknown ListFailed.
 *  - Orphans (owned resources of pools absent from want) are destroyed only
 *    when pol->collect_orphans and no only_pool, at most pol->max_deletions
 *    pools per plan (sorted by pool key) unless allow_mass_delete; the rest get
 *    a status entry with reason MassDeleteRefused.
 *  - ImageVersion builds are planned under the pseudo pool
 *    "ImageVersion/<ns>/<name>" (a `run` action), so they never mix with a
 *    WorkerPool of the same name.
 *  - Idempotency keys: "<verb>-<16 hex>" of FNV-1a over pool, verb, path,
 *    instances and count (not the body: bodies carry timestamps).
 *  - Stalled: an instance Provisioning/Registering longer than
 *    RP_PROVISION_DEADLINE_MS (plus the hook's timeouts) sets Stalled with
 *    reason ProvisioningTimeout (an unresolvable window zone: UnknownTimeZone);
 *    waits with a known end set requeue_at_ms.
 *  - Destroy: resources already Deleting are not deleted again; an orphaned
 *    pool whose resources are all Deleting still counts against
 *    max_deletions (its destroy is in progress). A deleting pool reports
 *    Deleting until nothing owned is listed, then Deleted (the finalizer may
 *    go). Worker groups are never deleted (no tags; others may use them).
 *  - A scale set is created only when the desired size is > 0.
 *  - Performance: lookups go through hash-sorted indexes built once per plan
 *    (rc_plan_index.c, each key read once); the spec hash is written as text
 *    without jansson (rc_arm.c); converged pools skip the victim sort. 10,000
 *    pools x 10 instances plan in ~46 ms on one core (make bench, target 100).
 *  - Memory: the statuses' strings are interned in the plan's string store
 *    (10,000 pools repeat their images, reasons and messages), status
 *    instances borrow from have (ids rebuilt on demand: rc_inst_status_id),
 *    index entries are 24 bytes and pools[] is reserved once: planning that
 *    world adds ~10 MB; the bench peaks at ~58 MB with its inputs (target 64).
 *  - Contracts for the executor: every POST delete/reimage of a scale set
 *    names its instanceIds (never "all"); the HybridWorkerExtension body
 *    carries "$hybridServiceUrl:<automationAccountId>" as AutomationAccountURL
 *    for the executor to replace (rc_plan_vm.c); secrets stay $secretRef
 *    placeholders (rc_arm.h).
 */
#include "rc_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_arm.h"
#include "rc_decide.h"
#include "rc_plan_int.h"
#include "rc_util.h"

#define RP_PROVISION_DEADLINE_MS (30LL * 60 * 1000)
#define RP_MAX_INSTANCES         1000000 /* RC_OBSERVED_MAX of rc_observe.c */

/* ---- plan storage ---- */

static void action_release(struct rc_action *a)
{
    size_t i;

    free(a->pool);
    free(a->target);
    free(a->path);
    json_decref(a->body);
    for (i = 0; i < a->n_instances; i++)
        free(a->instances[i]);
    free(a->instances);
    free(a->reason);
    free(a->key);
    memset(a, 0, sizeof(*a));
}

/* Frees p unless it lives in the plan's string store (rc_plan.h). */
static void free_field(const struct rc_strtab *t, void *p)
{
    if (!rc_strtab_owns(t, p))
        free(p);
}

static void status_release(const struct rc_strtab *t, struct rc_pool_status *s)
{
    free_field(t, s->pool);
    free_field(t, s->current_image);
    free_field(t, s->target_image);
    free_field(t, s->halted_image);
    free_field(t, s->reason);
    free_field(t, s->message);
    free_field(t, s->summary);
    free_field(t, s->instances);
    memset(s, 0, sizeof(*s));
}

/* A status string: interned in the plan's store (statuses of 10,000 pools
 * repeat their images, reasons and messages). NULL stays NULL; NULL on ENOMEM
 * for a non-NULL s. */
static char *st_str(struct rc_plan *plan, const char *s)
{
    if (!s)
        return NULL;
    if (!plan->strs && !(plan->strs = rc_strtab_new()))
        return NULL;
    return rc_strtab_intern(plan->strs, s, strlen(s));
}

void rc_plan_release(struct rc_plan *plan)
{
    size_t i;

    if (!plan)
        return;
    for (i = 0; i < plan->n_actions; i++)
        action_release(&plan->actions[i]);
    free(plan->actions);
    for (i = 0; i < plan->n_pools; i++)
        status_release(plan->strs, &plan->pools[i]);
    free(plan->pools);
    rc_strtab_free(plan->strs);
    memset(plan, 0, sizeof(*plan));
}

const char *rc_inst_status_id(const struct rc_inst_status *s, char *buf, size_t size)
{
    const char *id = s ? s->id : NULL;

    if (!id && s && s->obs)
        id = rc_obs_instance_id(s->obs, buf, size);
    return id ? id : "";
}

static struct rc_action *push_action(struct rc_plan *plan)
{
    if (plan->n_actions == plan->cap_actions) {
        size_t cap = plan->cap_actions ? plan->cap_actions * 2 : 16;
        struct rc_action *v = realloc(plan->actions, cap * sizeof(*v));

        if (!v)
            return NULL;
        plan->actions = v;
        plan->cap_actions = cap;
    }
    memset(&plan->actions[plan->n_actions], 0, sizeof(plan->actions[0]));
    return &plan->actions[plan->n_actions++];
}

static struct rc_pool_status *push_status(struct rc_plan *plan, const char *pool)
{
    struct rc_pool_status *s;

    if (plan->n_pools == plan->cap_pools) {
        size_t cap = plan->cap_pools ? plan->cap_pools * 2 : 8;
        struct rc_pool_status *v = realloc(plan->pools, cap * sizeof(*v));

        if (!v)
            return NULL;
        plan->pools = v;
        plan->cap_pools = cap;
    }
    s = &plan->pools[plan->n_pools];
    memset(s, 0, sizeof(*s));
    s->pool = st_str(plan, pool);
    if (!s->pool)
        return NULL;
    plan->n_pools++;
    return s;
}

int rp_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (r < 0)
        return 0;
    return (size_t)r >= size ? (int)(size ? size - 1 : 0) : r;
}

static char *vformat(const char *fmt, va_list ap)
{
    char buf[1024];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    return rc_strdup(buf);
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

void rp_join(char *const *names, size_t n, char *buf, size_t size)
{
    size_t i, len = 0;

    if (size == 0)
        return;
    buf[0] = '\0';
    for (i = 0; i < n && i < 8; i++) {
        int w = rp_fmt(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);

        if (w < 0 || (size_t)w >= size - len)
            return;
        len += (size_t)w;
    }
    if (n > 8)
        rp_fmt(buf + len, size - len, " and %zu more", n - 8);
}

int rp_add_for(struct rc_plan *plan, const char *pool, enum rc_verb verb, enum rc_method method,
               const char *target, const char *path_suffix, const char *api, json_t *body,
               const char *const *inst, size_t n_inst, bool has_count, int64_t count, int wave,
               const char *reason)
{
    struct rc_action *a;
    char kbuf[2048];
    size_t i, len;
    uint64_t h;

    a = push_action(plan);
    if (!a) {
        json_decref(body);
        return -RC_ENOMEM;
    }
    a->verb = verb;
    a->method = method;
    a->api_version = api;
    a->body = body;
    a->wave = wave;
    a->has_count = has_count;
    a->count = count;
    a->pool = rc_strdup(pool);
    a->target = rc_strdup(target);
    a->path = format("%s%s", target, path_suffix ? path_suffix : "");
    a->reason = rc_strdup(reason);
    if (n_inst) {
        a->instances = calloc(n_inst, sizeof(char *));
        if (a->instances) {
            for (i = 0; i < n_inst; i++) {
                a->instances[i] = rc_strdup(inst[i]);
                if (!a->instances[i])
                    break;
                a->n_instances++;
            }
        }
    }
    len = (size_t)rp_fmt(kbuf, sizeof(kbuf), "%s|%d|%s|%lld", pool, (int)verb,
                         a->path ? a->path : "", (long long)(has_count ? count : -1));
    h = rc_hash64(kbuf, len < sizeof(kbuf) ? len : sizeof(kbuf) - 1);
    for (i = 0; i < a->n_instances; i++) {
        h ^= rc_hash64_str(a->instances[i]) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    a->key = format("%s-%016llx", rc_verb_name(verb), (unsigned long long)h);
    if (!a->pool || !a->target || !a->path || !a->reason || !a->key || a->n_instances != n_inst) {
        action_release(a);
        plan->n_actions--;
        return -RC_ENOMEM;
    }
    if (!body && (method == RC_HTTP_PUT || method == RC_HTTP_PATCH || verb == RC_VERB_REIMAGE ||
                  (verb == RC_VERB_DELETE && method == RC_HTTP_POST))) {
        /* rc_arm_* gives NULL when the spec lacks a field the body needs */
        action_release(a);
        plan->n_actions--;
        return -RC_EINVAL;
    }
    return 0;
}

int rp_add(struct rp_ctx *c, enum rc_verb verb, enum rc_method method, const char *target,
           const char *path_suffix, const char *api, json_t *body, const char *const *inst,
           size_t n_inst, bool has_count, int64_t count, int wave, const char *fmt, ...)
{
    char reason[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return rp_add_for(c->plan, c->key, verb, method, target, path_suffix, api, body, inst, n_inst,
                      has_count, count, wave, reason);
}

void rp_wait(struct rp_ctx *c, const char *reason, int64_t t_ms, const char *fmt, ...)
{
    va_list ap;

    if (t_ms > 0 && (c->requeue == 0 || t_ms < c->requeue))
        c->requeue = t_ms;
    if (c->wait[0])
        return;
    c->wait_reason = reason;
    va_start(ap, fmt);
    vsnprintf(c->wait, sizeof(c->wait), fmt, ap);
    va_end(ap);
}

json_t *rp_tags_json(const struct rc_kv *tags, size_t n, bool strip)
{
    json_t *o = json_object();
    size_t i;

    if (!o)
        return NULL;
    for (i = 0; i < n; i++) {
        if (!tags[i].key || !tags[i].value)
            continue;
        if (strip && strncmp(tags[i].key, "azpool.", 7) == 0)
            continue;
        if (json_object_set_new(o, tags[i].key, json_string(tags[i].value)) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* ---- image resolution ---- */

static bool parse_semver(const char *s, long v[3])
{
    int i;

    for (i = 0; i < 3; i++) {
        char *end;

        if (*s < '0' || *s > '9')
            return false;
        v[i] = strtol(s, &end, 10);
        s = end;
        if (i < 2) {
            if (*s != '.')
                return false;
            s++;
        }
    }
    return *s == '\0';
}

static int semver_cmp(const long a[3], const long b[3])
{
    int i;

    for (i = 0; i < 3; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

/* Fills c->target; returns false (with c->stall_msg) when it cannot be resolved. */
static bool resolve_image(struct rp_ctx *c)
{
    const struct rc_pool_spec *s = &c->p->spec;

    c->target_arm = c->target;
    if (s->image_ref.name) {
        const struct rc_image_version *iv =
            rc_desired_image(c->want, c->p->meta.namespace, s->image_ref.name);
        const struct rc_image_version_spec *is;
        char def[RC_ARM_ID_MAX];
        const struct rc_obs_image_version *best = NULL;
        long bv[3] = {0, 0, 0};
        size_t i;

        if (!iv) {
            rp_fmt(c->stall_msg, sizeof(c->stall_msg), "ImageVersion %s/%s not found",
                   c->p->meta.namespace, s->image_ref.name);
            return false;
        }
        is = &iv->spec;
        rp_fmt(def, sizeof(def),
               "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/galleries/%s/"
               "images/%s",
               is->gallery_subscription_id ? is->gallery_subscription_id : "",
               is->gallery_resource_group ? is->gallery_resource_group : "",
               is->gallery_name ? is->gallery_name : "",
               is->image_definition ? is->image_definition : "");
        if (is->version && strcmp(is->version, "latest") != 0) {
            rp_fmt(c->target, sizeof(c->target), "%s/versions/%s", def, is->version);
            return true;
        }
        for (i = 0; i < c->have->n_image_versions; i++) {
            const struct rc_obs_image_version *v = &c->have->image_versions[i];
            long sv[3];

            if (!v->image_definition_id || rc_strcasecmp(v->image_definition_id, def) != 0)
                continue;
            if (v->exclude_from_latest || !v->name || !parse_semver(v->name, sv))
                continue;
            if (v->provisioning_state && rc_strcasecmp(v->provisioning_state, "Succeeded") != 0)
                continue;
            if (!best || semver_cmp(sv, bv) > 0) {
                best = v;
                memcpy(bv, sv, sizeof(bv));
            }
        }
        if (!best) {
            rp_fmt(c->stall_msg, sizeof(c->stall_msg),
                   "no published version of %s (ImageVersion %s/%s, latest)", def,
                   c->p->meta.namespace, s->image_ref.name);
            return false;
        }
        rp_fmt(c->target, sizeof(c->target), "%s/versions/%s", def, best->name);
        return true;
    }
    if (s->image.id || s->image.publisher) {
        if (rc_arm_image_string(&s->image, c->target, sizeof(c->target)) < 0) {
            rp_fmt(c->stall_msg, sizeof(c->stall_msg), "spec.image is incomplete");
            return false;
        }
        return true;
    }
    rp_fmt(c->stall_msg, sizeof(c->stall_msg), "spec has neither imageRef nor image");
    return false;
}

/* "1.5.0" for gallery version ids, else the id itself (for messages). */
static const char *image_label(const char *id)
{
    const char *p;

    if (!id)
        return "";
    p = strstr(id, "/versions/");
    if (!p)
        p = strstr(id, "/Versions/");
    return p ? p + 10 : id;
}

/* ---- instances ---- */

static bool name_in(char *const *list, size_t n, const char *name)
{
    size_t i;

    for (i = 0; name && i < n; i++) {
        if (list[i] && rc_strcasecmp(list[i], name) == 0)
            return true;
    }
    return false;
}

/* The value of tag name (case-insensitive), NULL when absent. */
static const char *tag_value(const struct rc_owned *own, const char *name)
{
    for (uint32_t i = 0; i < own->n_tags; i++)
        if (own->tags[i].key && rc_strcasecmp(own->tags[i].key, name) == 0)
            return own->tags[i].value;
    return NULL;
}

static bool owned_by(const struct rc_owned *own, const char *key)
{
    return own->managed && own->pool && strcmp(own->pool, key) == 0;
}

static int collect(struct rp_ctx *c)
{
    const struct rp_index *ix;
    const char *k;
    size_t i, n = 0, cnt, first, end;
    bool vmss_mode = c->p->spec.mode == RC_MODE_SCALESET;

    if (c->have->n_instances > RP_MAX_INSTANCES)
        return -RC_ELIMIT;
    if (vmss_mode && !c->ss)
        return 0;
    ix = vmss_mode ? &c->w->inst_ss : &c->w->inst_pool;
    k = vmss_mode ? c->ss->id : c->key;
    first = rp_index_range(ix, k, &end);
    cnt = end > first ? end - first : 0;
    c->v = calloc(cnt ? cnt : 1, sizeof(*c->v));
    if (!c->v)
        return -RC_ENOMEM;
    for (i = first; i < end; i++) {
        const struct rc_obs_instance *o = &c->have->instances[ix->v[i].idx];

        if (!vmss_mode && (o->scale_set_id || !owned_by(&o->own, c->key)))
            continue;
        c->v[n].o = o;
        c->v[n].state = o->state;
        n++;
    }
    c->n = n;
    return 0;
}

static int64_t drain_end(const struct rp_ctx *c, const struct rp_inst *x)
{
    return x->o->draining_since_ms + c->p->spec.drain_timeout_ms;
}

static enum rp_class victim_class(const struct rp_inst *x)
{
    if (x->failed)
        return RP_CLASS_FAILED;
    if (x->forced || x->expiring || x->recycle_replace)
        return RP_CLASS_EXPIRED;
    if (x->outdated)
        return RP_CLASS_OUTDATED;
    return RP_CLASS_OTHER;
}

int rp_victim_cmp(const void *a, const void *b)
{
    const struct rp_inst *x = *(const struct rp_inst *const *)a;
    const struct rp_inst *y = *(const struct rp_inst *const *)b;
    bool xb = x->busy && !x->forced && !x->drain_due, yb = y->busy && !y->forced && !y->drain_due;
    enum rp_class cx = victim_class(x), cy = victim_class(y);

    if (xb != yb)
        return xb ? 1 : -1;
    if (cx != cy)
        return cx < cy ? -1 : 1;
    if (x->o->created_ms != y->o->created_ms)
        return x->o->created_ms < y->o->created_ms ? -1 : 1;
    return strcmp(x->o->name ? x->o->name : "", y->o->name ? y->o->name : "");
}

static int expiry_cmp(const void *a, const void *b)
{
    const struct rp_inst *x = *(const struct rp_inst *const *)a;
    const struct rp_inst *y = *(const struct rp_inst *const *)b;

    if (x->forced != y->forced)
        return x->forced ? -1 : 1;
    if (x->expires_ms != y->expires_ms)
        return x->expires_ms < y->expires_ms ? -1 : 1;
    return strcmp(x->o->name ? x->o->name : "", y->o->name ? y->o->name : "");
}

static bool same_image(const char *a, const char *b)
{
    return a && b && (strcmp(a, b) == 0 || rc_strcasecmp(a, b) == 0);
}

/* Previous image for a halt: the image most live instances run other than the
 * halted one (ties: smallest id). */
static void previous_image(const struct rp_ctx *c, const char *not_this, char *buf, size_t size)
{
    size_t i, j;
    int best = 0;

    buf[0] = '\0';
    /* fast path: every instance runs the same image */
    for (i = 0, j = 0; i < c->n; i++) {
        if (!same_image(c->v[i].o->image, c->v[0].o->image))
            break;
        j += c->v[i].deleting ? 0 : 1;
    }
    if (c->n > 0 && i == c->n && j > 0 && !same_image(c->v[0].o->image, not_this)) {
        rc_strlcpy(buf, c->v[0].o->image, size);
        return;
    }
    for (i = 0; i < c->n; i++) {
        const char *im = c->v[i].o->image;
        int cnt = 0;

        if (!im || same_image(im, not_this) || c->v[i].deleting)
            continue;
        for (j = 0; j < c->n; j++) {
            if (!c->v[j].deleting && same_image(c->v[j].o->image, im))
                cnt++;
        }
        if (cnt > best || (cnt == best && strcmp(im, buf) < 0)) {
            best = cnt;
            rc_strlcpy(buf, im, size);
        }
    }
}

static void classify(struct rp_ctx *c)
{
    const struct rc_pool_spec *s = &c->p->spec;
    const struct rc_expiry_spec *es = c->ep ? &c->ep->spec : NULL;
    /* a new scale-set model (spec hash) makes every existing instance outdated */
    bool model_changes =
        c->ss && (!c->ss->spec_hash || strcmp(c->ss->spec_hash, c->spec_hash) != 0);
    /* the model went to a halted image and back (tag azpool.halted-image; the
     * model image is the target again, the spec unchanged): the generation
     * changed twice, the content did not, so latestModelApplied false on an
     * instance of the target image is no reason to replace it */
    const char *hh = c->ss ? tag_value(&c->ss->own, RC_TAG_HALTED_HASH) : NULL;
    bool round_trip =
        s->mode == RC_MODE_SCALESET && c->ss && c->ss->halted_image && hh &&
        strcmp(hh, c->spec_hash) == 0 && !model_changes && c->ss->image &&
        same_image(c->ss->image, c->target) &&
        !(c->ss->orchestration && rc_strcasecmp(c->ss->orchestration, "Flexible") == 0);
    size_t i;

    for (i = 0; i < c->n; i++) {
        struct rp_inst *x = &c->v[i];
        const struct rc_obs_instance *o = x->o;

        x->busy = o->busy || (c->op && name_in(c->op->busy, c->op->n_busy, o->name));
        x->deleting = x->state == RC_INST_DELETING;
        x->failed = x->state == RC_INST_FAILED;
        x->live = !x->deleting && !x->failed;
        x->ready = x->live && x->state == RC_INST_READY;
        x->on_target = same_image(o->image, c->target);
        x->outdated_image = !x->on_target;
        x->outdated = x->outdated_image;
        if (round_trip && !o->latest_model && x->on_target) {
            x->stale_model = true; /* up to date (see the top) */
            c->keep_halt_tags = true;
        } else if (s->mode == RC_MODE_SCALESET && (!o->latest_model || model_changes))
            x->outdated = true;
        if (s->mode == RC_MODE_VIRTUALMACHINES && o->spec_hash &&
            strcmp(o->spec_hash, c->spec_hash) != 0)
            x->outdated = true;
        if (es && o->created_ms > 0) {
            x->expires_ms = rc_expiry_at(es, o->name ? o->name : "", o->created_ms);
            x->force_ms = rc_expiry_force_at(es, o->created_ms);
        } else {
            x->expires_ms = o->expires_ms;
        }
        if (x->expires_ms > 0 && c->now >= x->expires_ms - (es ? es->replace_before_ms : 0))
            x->expiring = true;
        if (x->force_ms > 0 && c->now >= x->force_ms)
            x->forced = true;
        if (o->draining_since_ms > 0 && c->now >= drain_end(c, x))
            x->drain_due = true;
        if (c->op && name_in(c->op->job_done, c->op->n_job_done, o->name)) {
            if (s->recycle_after_job == RC_RECYCLE_REPLACE)
                x->recycle_replace = true;
            else if (s->recycle_after_job == RC_RECYCLE_REIMAGE && !x->outdated)
                x->recycle_reimage = true;
        }
        if (x->outdated_image)
            x->why = "outdated image";
        else if (x->outdated)
            x->why = "outdated model";
    }
}

/* Selects expiring instances for replacement (windows, budget, forceAfter). */
static void select_expiring(struct rp_ctx *c)
{
    const struct rc_expiry_spec *es = c->ep ? &c->ep->spec : NULL;
    struct rp_inst **cand;
    size_t i, n = 0;
    int budget, k;
    bool open = true;
    int64_t end_ms = 0, next_ms = 0;
    struct rc_err err = {0};
    int n_waiting = 0;

    if (!es)
        return;
    cand = calloc(c->n ? c->n : 1, sizeof(*cand));
    if (!cand)
        return;
    for (i = 0; i < c->n; i++) {
        struct rp_inst *x = &c->v[i];

        /* every state: a Failed or Deleting expiring instance keeps its slot
         * until it is gone, so the choice does not move when this plan's
         * deletes take effect */
        if (x->expiring && !x->outdated && !x->recycle_replace)
            cand[n++] = x;
    }
    if (n == 0) {
        free(cand);
        return;
    }
    if (rc_window_state(es, c->pol, c->now, &open, &end_ms, &next_ms, &err) < 0) {
        rp_fmt(c->stall_msg, sizeof(c->stall_msg), "%s", err.msg);
        c->stalled = true;
        c->stall_reason = "UnknownTimeZone";
        open = false;
    }
    qsort(cand, n, sizeof(*cand), expiry_cmp);
    budget = rc_intstr_resolve(&es->disruption_max_unavailable, c->desired, false);
    if (budget < 1)
        budget = 1;
    k = budget;
    for (i = 0; i < n; i++) {
        struct rp_inst *x = cand[i];

        if (x->forced) {
            x->selected = true;
            if (x->live)
                x->why = "past forceAfter";
            continue;
        }
        if (!open) {
            n_waiting += x->live;
            continue;
        }
        if (k > 0) {
            x->selected = true;
            if (x->live)
                x->why = c->now >= x->expires_ms ? "expired" : "expiring";
            k--;
        } else {
            n_waiting += x->live;
        }
    }
    if (n_waiting > 0 && !open) {
        char t[RC_TIME_MAX];

        if (next_ms > 0) {
            rc_time_format(next_ms, t, sizeof(t));
            rp_wait(c, "WaitingForMaintenanceWindow", next_ms,
                    "%d instance%s expired; next window opens %s", n_waiting,
                    n_waiting == 1 ? "" : "s", t);
        } else {
            rp_wait(c, "WaitingForMaintenanceWindow", 0,
                    "%d instance%s expired; no maintenance window within a year", n_waiting,
                    n_waiting == 1 ? "" : "s");
        }
    } else if (n_waiting > 0) {
        rp_wait(c, "WaitingForDisruptionBudget", 0,
                "%d instance%s expiring; disruption budget %d in use", n_waiting,
                n_waiting == 1 ? "" : "s", budget);
    }
    free(cand);
}

static int count_if(const struct rp_ctx *c, bool (*pred)(const struct rp_inst *))
{
    size_t i;
    int n = 0;

    for (i = 0; i < c->n; i++)
        n += pred(&c->v[i]) ? 1 : 0;
    return n;
}

static bool is_live(const struct rp_inst *x)
{
    return x->live;
}

/* Busy and protected: a busy instance past its drain timeout or forceAfter is
 * deleted anyway, so it does not hold the autoscaler up. */
static bool is_busy_live(const struct rp_inst *x)
{
    return x->live && x->busy && !x->drain_due && !x->forced;
}

/* Canary phase and halt detection. */
static void canary(struct rp_ctx *c)
{
    const struct rc_rollout *ro = &c->p->spec.rollout;
    size_t i;
    int soaked = 0, g;
    bool rolling = false, failed_on_target = false;
    int64_t soak_end = 0;

    if (!ro->canary)
        return;
    for (i = 0; i < c->n; i++) {
        const struct rp_inst *x = &c->v[i];

        if (x->live && x->outdated_image)
            rolling = true;
        if (x->failed && x->on_target)
            failed_on_target = true;
        if (x->live && x->on_target) {
            int64_t end = x->o->created_ms + ro->canary_soak_ms;

            if (x->ready && c->now >= end)
                soaked++;
            else if (soak_end == 0 || end < soak_end)
                soak_end = end;
        }
    }
    g = ro->canary_replicas < c->desired ? ro->canary_replicas : c->desired;
    if (!rolling || soaked >= g || g <= 0)
        return;
    if (failed_on_target) {
        char prev[RC_ARM_ID_MAX];

        previous_image(c, c->target, prev, sizeof(prev));
        if (prev[0]) {
            c->halt_now = true;
            rc_strlcpy(c->halt_image, c->target, sizeof(c->halt_image));
            rc_strlcpy(c->halted, c->target, sizeof(c->halted));
            rc_strlcpy(c->target, prev, sizeof(c->target));
            c->target_arm = c->target;
            for (i = 0; i < c->n; i++) {
                struct rp_inst *x = &c->v[i];

                x->on_target = same_image(x->o->image, c->target);
                x->outdated_image = !x->on_target;
                x->outdated = x->outdated_image;
                x->stale_model = false; /* the model is written back in this plan */
                x->why = x->outdated ? "halted canary" : NULL;
            }
            return;
        }
    }
    c->canary_phase = true;
    if (soak_end > c->now) {
        rp_wait(c, "RollingOut", soak_end, "waiting for canary soak (%llds left)",
                (long long)((soak_end - c->now + 999) / 1000));
    } else {
        rp_wait(c, "RollingOut", 0, "waiting for canary to become Ready");
    }
}

void rp_decide(struct rp_ctx *c)
{
    const struct rc_rollout *ro = &c->p->spec.rollout;
    struct rp_inst **cand = NULL;
    size_t i, nc = 0;
    int n = c->desired, surge, unav, avail = 0, good = 0, live = 0, good_surplus, room = 0;
    int del_live = 0, del_good = 0, g;
    bool blocked_avail = false, any_old = false;

    surge = rc_intstr_resolve(&ro->max_surge, n, true);
    unav = rc_intstr_resolve(&ro->max_unavailable, n, false);
    if (surge <= 0 && unav <= 0)
        surge = 1;
    for (i = 0; i < c->n; i++) {
        struct rp_inst *x = &c->v[i];

        x->old = x->live && (x->outdated || x->selected || x->recycle_replace);
        if (x->recycle_replace && !x->why)
            x->why = "job done";
        if (x->live)
            live++;
        if (x->ready)
            avail++;
        if (x->live && !x->old)
            good++;
    }
    g = c->canary_phase ? (ro->canary_replicas < n ? ro->canary_replicas : n) : n;
    if (c->canary_phase) {
        /* during the soak, old-image instances are kept: n of them when the
         * surge leaves room for the canaries, else as many as fit beside
         * them; only those above that may go */
        int old_img = 0, keep = n + surge - g < n ? n + surge - g : n;

        if (keep < n - g)
            keep = n - g;
        for (i = 0; i < c->n; i++)
            old_img += c->v[i].live && c->v[i].outdated_image;
        room = old_img - keep > 0 ? old_img - keep : 0;
    }
    cand = calloc(c->n ? c->n : 1, sizeof(*cand));
    if (!cand)
        return;
    /* failed instances first: always deleted (they serve nothing) */
    for (i = 0; i < c->n; i++) {
        struct rp_inst *x = &c->v[i];

        if (x->failed) {
            x->del = true;
            x->why = "failed";
            c->n_del++;
        }
    }
    /* removal candidates: old ones, and good ones (the surplus is taken below) */
    for (i = 0; i < c->n; i++) {
        if (c->v[i].live)
            cand[nc++] = &c->v[i];
        any_old = any_old || (c->v[i].live && c->v[i].old);
    }
    good_surplus = good - g > 0 ? good - g : 0;
    if (c->canary_phase)
        good_surplus = good - n > 0 ? good - n : 0;
    /* nothing old and no surplus (a converged pool): the loop below removes
     * nothing, in any order */
    if (!any_old && good_surplus == 0)
        nc = 0;
    qsort(cand, nc, sizeof(*cand), rp_victim_cmp);
    for (i = 0; i < nc; i++) {
        struct rp_inst *x = cand[i];
        bool must;

        if (x->old) {
            must = true;
            if (c->canary_phase && x->outdated_image && !x->forced && !x->recycle_replace &&
                !x->selected) {
                if (room <= 0)
                    continue;
                room--;
            }
        } else {
            must = good_surplus > 0;
            if (must) {
                good_surplus--;
                if (!x->why)
                    x->why = "scale in";
            }
        }
        if (!must)
            continue;
        if (x->busy && !x->forced && !x->drain_due) {
            if (x->o->draining_since_ms == 0) {
                x->drain = true;
                c->n_drain++;
                rp_wait(c, "WaitingForDrain", c->now + c->p->spec.drain_timeout_ms,
                        "%s busy; draining (%llds left)", x->o->name,
                        (long long)(c->p->spec.drain_timeout_ms / 1000));
            } else {
                rp_wait(c, "WaitingForDrain", drain_end(c, x), "%s busy; draining (%llds left)",
                        x->o->name, (long long)((drain_end(c, x) - c->now + 999) / 1000));
            }
            continue;
        }
        if (x->ready) {
            if (avail - 1 < n - unav) {
                blocked_avail = true;
                continue;
            }
            avail--;
        }
        x->del = true;
        c->n_del++;
        del_live++;
        if (!x->old)
            del_good++;
    }
    free(cand);
    good -= del_good;
    live -= del_live;
    {
        int a = g - good, b = n + surge - live;
        int cr = a < b ? a : b;

        if (n - live > cr)
            cr = n - live;
        c->creates = cr > 0 ? cr : 0;
    }
    if (blocked_avail)
        rp_wait(c, c->canary_phase ? "RollingOut" : "Replacing", 0,
                "waiting for replacements to become Ready");
}

/* ---- status ---- */

static int inst_status_cmp(const void *a, const void *b)
{
    const struct rc_inst_status *x = a, *y = b;

    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int fill_status(struct rp_ctx *c)
{
    struct rc_pool_status *st = c->st;
    size_t i, pending = c->plan->n_actions - c->first_action;
    char msg[RP_NOTE_MAX], sum[RP_NOTE_MAX];
    const char *reason;
    int failed = 0, provisioning = 0;
    size_t len = 0;
    char cur[RC_ARM_ID_MAX];

    for (i = 0; i < c->n; i++) {
        const struct rp_inst *x = &c->v[i];

        if (x->deleting)
            continue;
        st->replicas++;
        if (x->ready)
            st->ready_replicas++;
        if (x->live && x->on_target && !x->outdated)
            st->updated_replicas++;
        if (x->live && x->expiring)
            st->expiring_replicas++;
        if (x->failed)
            failed++;
        if (x->live && !x->ready) {
            int64_t deadline = x->o->created_ms + RP_PROVISION_DEADLINE_MS;

            provisioning++;
            if (c->p->spec.after_create.automation_account_id)
                deadline += (int64_t)(c->p->spec.after_create.retries + 1) *
                            c->p->spec.after_create.timeout_seconds * 1000;
            if (x->o->created_ms > 0 && c->now >= deadline && !c->stalled) {
                c->stalled = true;
                c->stall_reason = "ProvisioningTimeout";
                rp_fmt(c->stall_msg, sizeof(c->stall_msg), "%s is %s for longer than %llds",
                       x->o->name, rc_inst_state_name(x->state),
                       (long long)((deadline - x->o->created_ms) / 1000));
            } else if (x->o->created_ms > 0) {
                if (c->requeue == 0 || deadline < c->requeue)
                    c->requeue = deadline;
            }
        }
    }
    st->desired_replicas = c->desired;
    previous_image(c, "", cur, sizeof(cur));
    st->current_image = cur[0] ? st_str(c->plan, cur) : NULL;
    st->target_image = c->target[0] ? st_str(c->plan, c->target) : NULL;
    if (c->halted[0])
        st->halted_image = st_str(c->plan, c->halted);
    if ((cur[0] && !st->current_image) || (c->target[0] && !st->target_image) ||
        (c->halted[0] && !st->halted_image))
        return -RC_ENOMEM;
    st->pending = (int)pending;
    st->requeue_at_ms = c->requeue;
    if (c->ss && c->ss->last_scale_ms)
        st->last_scale_ms = c->ss->last_scale_ms;
    else if (c->op)
        st->last_scale_ms = c->op->last_scale_ms;
    if (c->scale_write)
        st->last_scale_ms = c->now;

    /* summary: "create 2, delete 1 (expired)" */
    sum[0] = '\0';
    if (c->creates) {
        bool replacing = false;

        for (i = 0; i < c->n; i++)
            replacing = replacing || c->v[i].old || c->v[i].failed;
        len += (size_t)rp_fmt(sum + len, sizeof(sum) - len, "%s%s %d", len ? ", " : "",
                              replacing ? "surge" : (c->ss ? "scale out" : "create"), c->creates);
    }
    if (c->n_del && len < sizeof(sum))
        len +=
            (size_t)rp_fmt(sum + len, sizeof(sum) - len, "%sdelete %d", len ? ", " : "", c->n_del);
    if (c->n_drain && len < sizeof(sum))
        len +=
            (size_t)rp_fmt(sum + len, sizeof(sum) - len, "%sdrain %d", len ? ", " : "", c->n_drain);
    if (c->n_reimage && len < sizeof(sum))
        len += (size_t)rp_fmt(sum + len, sizeof(sum) - len, "%sreimage %d", len ? ", " : "",
                              c->n_reimage);

    if (!len && pending)
        rp_fmt(sum, sizeof(sum), "%zu action%s", pending, pending == 1 ? "" : "s");
    st->summary = st_str(c->plan, sum);

    {
        bool rolling = c->canary_phase || c->halted[0];

        for (i = 0; i < c->n; i++)
            rolling = rolling || (c->v[i].live && c->v[i].outdated_image);
        if (rolling)
            rp_fmt(msg, sizeof(msg), "%d/%d on %s", st->updated_replicas, c->desired,
                   c->target[0] ? image_label(c->target) : "?");
        else
            rp_fmt(msg, sizeof(msg), "%d/%d ready", st->ready_replicas, c->desired);
    }
    st->ready = RC_COND_FALSE;
    st->progressing = RC_COND_FALSE;
    st->degraded = failed || c->halted[0] ? RC_COND_TRUE : RC_COND_FALSE;
    st->stalled = c->stalled ? RC_COND_TRUE : RC_COND_FALSE;
    if (c->stalled) {
        reason = c->stall_reason ? c->stall_reason : "Stalled";
        rp_fmt(msg + strlen(msg), sizeof(msg) - strlen(msg), "; %s", c->stall_msg);
    } else if (c->halted[0]) {
        reason = "RolloutHalted";
        rp_fmt(msg + strlen(msg), sizeof(msg) - strlen(msg),
               "; rollout of %s halted (canary failed)", image_label(c->halted));
        if (pending || c->wait[0])
            st->progressing = RC_COND_TRUE;
    } else if (c->wait[0]) {
        reason = c->wait_reason;
        rp_fmt(msg + strlen(msg), sizeof(msg) - strlen(msg), "; %s", c->wait);
        if (c->wait_reason && !strcmp(c->wait_reason, "WaitingForMaintenanceWindow"))
            rp_fmt(msg, sizeof(msg), "%s", c->wait);
        st->progressing = RC_COND_TRUE;
    } else if (pending) {
        if (c->n == 0)
            reason = "Creating";
        else if (c->halt_now)
            reason = "RolloutHalted";
        else if (count_if(c, is_live) < c->desired && c->n_del == 0 && !c->canary_phase)
            reason = "ScalingOut";
        else if (count_if(c, is_live) > c->desired && c->creates == 0)
            reason = "ScalingIn";
        else
            reason = "RollingOut";
        rp_fmt(msg + strlen(msg), sizeof(msg) - strlen(msg), "; %s", sum);
        st->progressing = RC_COND_TRUE;
    } else if (provisioning || st->replicas != c->desired || st->updated_replicas != st->replicas) {
        reason = c->n == 0 ? "Creating" : "Provisioning";
        rp_fmt(msg + strlen(msg), sizeof(msg) - strlen(msg), "; %d provisioning", provisioning);
        st->progressing = RC_COND_TRUE;
    } else {
        reason = "Ready";
        rp_fmt(msg, sizeof(msg), "%d/%d ready on %s", st->ready_replicas, c->desired,
               c->target[0] ? image_label(c->target) : "?");
        st->ready = RC_COND_TRUE;
    }
    st->reason = st_str(c->plan, reason);
    st->message = st_str(c->plan, msg);

    /* instances (at most RC_STATUS_INSTANCES_MAX) */
    st->instances =
        rc_strtab_alloc(c->plan->strs, (c->n < RC_STATUS_INSTANCES_MAX ? (c->n ? c->n : 1)
                                                                       : RC_STATUS_INSTANCES_MAX) *
                                           sizeof(*st->instances));
    if (!st->instances || !st->reason || !st->message || !st->summary)
        return -RC_ENOMEM;
    for (i = 0; i < c->n && st->n_instances < RC_STATUS_INSTANCES_MAX; i++) {
        const struct rp_inst *x = &c->v[i];
        struct rc_inst_status *is = &st->instances[st->n_instances++];

        is->name = x->o->name; /* borrowed from have (rc_plan.h) */
        is->id = x->o->id;     /* NULL for a canonical Uniform id: rc_inst_status_id() */
        is->obs = x->o;
        is->image = x->o->image;
        is->created_ms = x->o->created_ms;
        is->expires_ms = x->expires_ms;
        is->state = x->state;
        if (x->live && x->o->draining_since_ms > 0)
            is->state = RC_INST_DRAINING; /* decided here, not by the observer */
        is->busy = x->busy;
        if (x->failed)
            is->reason = "Failed";
        else if (x->expiring)
            is->reason = "Expired";
        else if (x->outdated)
            is->reason = "OutdatedImage";
    }
    /* by name, so the status does not change with the order ARM lists in
     * (ARM lists a scale set's instances in order: check before sorting) */
    for (i = 1; i < st->n_instances; i++)
        if (inst_status_cmp(&st->instances[i - 1], &st->instances[i]) > 0)
            break;
    if (i < st->n_instances)
        qsort(st->instances, st->n_instances, sizeof(*st->instances), inst_status_cmp);
    return 0;
}

static int simple_status(struct rc_plan *plan, const char *pool, const char *reason,
                         const char *msg, enum rc_cond ready, bool stalled, int pending)
{
    struct rc_pool_status *st = push_status(plan, pool);

    if (!st)
        return -RC_ENOMEM;
    st->reason = st_str(plan, reason);
    st->message = st_str(plan, msg);
    st->ready = ready;
    st->stalled = stalled ? RC_COND_TRUE : RC_COND_FALSE;
    st->progressing = pending ? RC_COND_TRUE : RC_COND_FALSE;
    st->pending = pending;
    if (!st->reason || !st->message)
        return -RC_ENOMEM;
    return 0;
}

/* ---- destroy (meta.deleting) and orphans ---- */

static bool scale_set_owned_by(const struct rc_obs_scale_set *ss, const char *key)
{
    return owned_by(&ss->own, key);
}

/* Destroys (or orphans) every owned resource of pool `key`. p may be NULL
 * (orphans: Delete). Returns the number of actions through ret_n. */
static int destroy_pool(struct rc_plan *plan, const struct rp_world *w,
                        const struct rc_observed *have, const char *key, const struct rc_pool *p,
                        int *ret_n, int *ret_present)
{
    bool orphan = p && p->spec.deletion_policy == RC_DELETE_ORPHAN;
    size_t i, j, end, wend = 0;
    int r, n = 0;
    char reason[512];

    *ret_present = 0;
    for (i = rp_index_range(&w->ss_pool, key, &end); i < end; i++) {
        const struct rc_obs_scale_set *ss = &have->scale_sets[w->ss_pool.v[i].idx];

        if (!scale_set_owned_by(ss, key))
            continue;
        (*ret_present)++;
        if (ss->provisioning_state && rc_strcasecmp(ss->provisioning_state, "Deleting") == 0)
            continue; /* in progress */
        if (orphan) {
            json_t *tags = rp_tags_json(ss->own.tags, ss->own.n_tags, true);

            rp_fmt(reason, sizeof(reason), "orphan %s: remove azpool tags (deletionPolicy Orphan)",
                   ss->name);
            r = rp_add_for(plan, key, RC_VERB_UPDATE, RC_HTTP_PATCH, ss->id, NULL, RC_API_COMPUTE,
                           rc_arm_tags_patch(tags), NULL, 0, false, 0, 0, reason);
            json_decref(tags);
        } else {
            rp_fmt(reason, sizeof(reason), "destroy pool %s: delete scale set %s", key, ss->name);
            r = rp_add_for(plan, key, RC_VERB_DELETE, RC_HTTP_DELETE, ss->id, NULL, RC_API_COMPUTE,
                           NULL, NULL, 0, false, 0, 0, reason);
        }
        if (r < 0)
            return r;
        n++;
    }
    for (i = rp_index_range(&w->inst_pool, key, &end); i < end; i++) {
        const struct rc_obs_instance *o = &have->instances[w->inst_pool.v[i].idx];

        if (o->scale_set_id || !owned_by(&o->own, key))
            continue;
        (*ret_present)++;
        if (orphan) {
            json_t *tags = rp_tags_json(o->own.tags, o->own.n_tags, true);

            rp_fmt(reason, sizeof(reason), "orphan %s: remove azpool tags (deletionPolicy Orphan)",
                   o->name);
            r = rp_add_for(plan, key, RC_VERB_UPDATE, RC_HTTP_PATCH, o->id, NULL, RC_API_COMPUTE,
                           rc_arm_tags_patch(tags), NULL, 0, false, 0, 0, reason);
            json_decref(tags);
            if (r < 0)
                return r;
            n++;
            continue;
        }
        if (o->state == RC_INST_DELETING)
            continue;
        for (j = o->id ? rp_index_range(&w->workers, o->id, &wend) : 0; o->id && j < wend; j++) {
            const struct rc_obs_worker *wk = &have->workers[w->workers.v[j].idx];

            rp_fmt(reason, sizeof(reason), "destroy pool %s: deregister worker of %s", key,
                   o->name);
            r = rp_add_for(plan, key, RC_VERB_DEREGISTER, RC_HTTP_DELETE, wk->id, NULL,
                           RC_API_AUTOMATION, NULL, (const char *const *)&o->name, 1, false, 0, 0,
                           reason);
            if (r < 0)
                return r;
            n++;
        }
        rp_fmt(reason, sizeof(reason), "destroy pool %s: delete VM %s", key, o->name);
        r = rp_add_for(plan, key, RC_VERB_DELETE, RC_HTTP_DELETE, o->id, NULL, RC_API_COMPUTE, NULL,
                       (const char *const *)&o->name, 1, false, 0, 1, reason);
        if (r < 0)
            return r;
        n++;
    }
    for (i = rp_index_range(&w->nic_pool, key, &end); i < end; i++) {
        const struct rc_obs_nic *nic = &have->nics[w->nic_pool.v[i].idx];

        if (!owned_by(&nic->own, key))
            continue;
        if (nic->provisioning_state && rc_strcasecmp(nic->provisioning_state, "Deleting") == 0)
            continue;
        if (orphan) {
            json_t *tags = rp_tags_json(nic->own.tags, nic->own.n_tags, true);

            rp_fmt(reason, sizeof(reason), "orphan NIC %s: remove azpool tags", nic->name);
            r = rp_add_for(plan, key, RC_VERB_UPDATE, RC_HTTP_PATCH, nic->id, NULL, RC_API_NETWORK,
                           rc_arm_tags_patch(tags), NULL, 0, false, 0, 0, reason);
            json_decref(tags);
        } else if (!nic->vm_id) {
            rp_fmt(reason, sizeof(reason), "destroy pool %s: delete NIC %s", key, nic->name);
            r = rp_add_for(plan, key, RC_VERB_DELETE, RC_HTTP_DELETE, nic->id, NULL, RC_API_NETWORK,
                           NULL, NULL, 0, false, 0, 0, reason);
        } else {
            continue; /* goes with its VM (deleteOption Delete) */
        }
        if (r < 0)
            return r;
        n++;
    }
    *ret_n = n;
    return 0;
}

static const struct rc_obs_pool *obs_pool(const struct rp_world *w, const struct rc_observed *have,
                                          const char *key)
{
    size_t i = rp_index_find(&w->opools, key);

    return i != SIZE_MAX ? &have->pools[i] : NULL;
}

static bool pool_listed(const struct rp_world *w, const struct rc_observed *have, const char *key)
{
    const struct rc_obs_pool *op = obs_pool(w, have, key);

    return op && op->list_failed;
}

static bool want_has(const struct rp_world *w, const char *key)
{
    return rp_index_find(&w->want, key) != SIZE_MAX;
}

/* Distinct pool keys of an index (sorted) that want does not have, appended
 * to keys (borrowed strings). */
static void orphan_keys(const struct rp_world *w, const struct rp_index *ix, const char **keys,
                        size_t *n)
{
    size_t i;

    for (i = 0; i < ix->n; i++) {
        if (ix->v[i].same)
            continue;
        if (!want_has(w, ix->v[i].key))
            keys[(*n)++] = ix->v[i].key;
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int collect_orphans(const struct rp_world *w, const struct rc_observed *have,
                           const struct rc_policy *pol, struct rc_plan *plan)
{
    const char **keys;
    size_t n = 0, i;
    int r = 0, destroyed = 0;

    keys = calloc(w->ss_pool.n + w->inst_pool.n + w->nic_pool.n + 1, sizeof(char *));
    if (!keys)
        return -RC_ENOMEM;
    orphan_keys(w, &w->ss_pool, keys, &n);
    orphan_keys(w, &w->inst_pool, keys, &n);
    orphan_keys(w, &w->nic_pool, keys, &n);
    if (n > 1)
        qsort(keys, n, sizeof(char *), str_cmp);
    for (i = 0; i < n && r == 0; i++) {
        int na = 0, present = 0;

        if (i > 0 && strcmp(keys[i - 1], keys[i]) == 0)
            continue;
        if (pool_listed(w, have, keys[i])) {
            r = simple_status(plan, keys[i], "ListFailed",
                              "orphaned pool not collected: listing its resources failed",
                              RC_COND_UNKNOWN, false, 0);
            continue;
        }
        if (!pol->allow_mass_delete && destroyed >= pol->max_deletions) {
            char msg[256];

            rp_fmt(msg, sizeof(msg),
                   "orphaned pool not collected: more than %d pool deletions in one change "
                   "(allow mass delete to proceed)",
                   pol->max_deletions);
            r = simple_status(plan, keys[i], "MassDeleteRefused", msg, RC_COND_FALSE, true, 0);
            continue;
        }
        r = destroy_pool(plan, w, have, keys[i], NULL, &na, &present);
        if (r == 0 && present) {
            destroyed++; /* also when only deletions in progress are left */
            r = simple_status(plan, keys[i], "Deleting", "pool removed from the source: destroying",
                              RC_COND_FALSE, false, na);
        }
    }
    free(keys);
    return r;
}

/* ---- image builds ---- */

static int plan_builds(const struct rc_desired *want, const struct rc_observed *have,
                       const struct rc_policy *pol, struct rc_plan *plan)
{
    size_t i, j;
    int r;

    for (i = 0; i < want->n_images; i++) {
        const struct rc_image_version *iv = &want->images[i];
        const struct rc_obs_image_template *t = NULL;
        char pool[RP_KEY_MAX], reason[512];
        int64_t built = 0;

        if (!iv->spec.build_template_id || iv->spec.run_when != RC_RUN_ONCHANGE)
            continue;
        if (pol->only_pool)
            continue;
        for (j = 0; j < have->n_templates; j++) {
            if (have->templates[j].id &&
                rc_strcasecmp(have->templates[j].id, iv->spec.build_template_id) == 0)
                t = &have->templates[j];
        }
        if (t) {
            built = t->built_revision;
            if (t->run_state && rc_strcasecmp(t->run_state, "Running") == 0)
                continue;
        }
        if (iv->spec.revision <= built)
            continue;
        rp_fmt(pool, sizeof(pool), "ImageVersion/%s/%s", iv->meta.namespace, iv->meta.name);
        rp_fmt(reason, sizeof(reason), "build revision %lld (last built %lld) of %s/%s",
               (long long)iv->spec.revision, (long long)built, iv->meta.namespace, iv->meta.name);
        r = rp_add_for(plan, pool, RC_VERB_RUN, RC_HTTP_POST, iv->spec.build_template_id, "/run",
                       RC_API_IMAGEBUILDER, NULL, NULL, 0, true, iv->spec.revision, 0, reason);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- one pool ---- */

static int autoscale(struct rp_ctx *c)
{
    const struct rc_autoscale *as = &c->p->spec.autoscale;
    struct rc_autoscale_in in;
    struct rc_autoscale_out out;
    int r;

    if (!as->enabled) {
        c->desired = c->p->spec.replicas;
        return 0;
    }
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    /* the size the pool converges to: the last decision when known (live
     * counts surge and old instances, which would feed back into the
     * decision), else the live instances */
    in.current =
        c->op && c->op->desired_replicas >= 0 ? c->op->desired_replicas : count_if(c, is_live);
    in.busy = count_if(c, is_busy_live);
    in.now_ms = c->now;
    if (c->op) {
        in.has_signal = c->op->has_signal;
        in.signal = c->op->signal;
        in.last_scale_out_ms = c->op->last_scale_out_ms;
        in.last_scale_in_ms = c->op->last_scale_in_ms;
    }
    if (in.last_scale_out_ms == 0 && in.last_scale_in_ms == 0) {
        int64_t t = c->ss ? c->ss->last_scale_ms : (c->op ? c->op->last_scale_ms : 0);

        in.last_scale_out_ms = t;
        in.last_scale_in_ms = t;
    }
    r = rc_autoscale_decide(as, &in, &out);
    if (r < 0)
        return r;
    c->desired = out.desired;
    c->scale_reason = out.reason;
    if (out.desired != in.current || out.desired != count_if(c, is_live))
        c->scale_write = out.desired != in.current;
    if (out.next_ms > 0 && (c->requeue == 0 || out.next_ms < c->requeue))
        c->requeue = out.next_ms;
    return 0;
}

/* metadata.annotations["azpool.dev/adopt"] == "true" */
static bool adopt(const struct rc_pool *p)
{
    size_t i;

    for (i = 0; i < p->meta.n_annotations; i++) {
        if (p->meta.annotations[i].key && p->meta.annotations[i].value &&
            strcmp(p->meta.annotations[i].key, "azpool.dev/adopt") == 0 &&
            strcmp(p->meta.annotations[i].value, "true") == 0)
            return true;
    }
    return false;
}

static int plan_pool(const struct rp_world *w, const struct rc_desired *want,
                     const struct rc_observed *have, const struct rc_policy *pol, int64_t now,
                     const struct rc_pool *p, struct rc_plan *plan)
{
    struct rp_ctx c;
    size_t i;
    int r = 0;

    memset(&c, 0, sizeof(c));
    c.plan = plan;
    c.p = p;
    c.want = want;
    c.have = have;
    c.pol = pol;
    c.w = w;
    c.now = now;
    rp_fmt(c.key, sizeof(c.key), "%s/%s", p->meta.namespace, p->meta.name);
    c.op = obs_pool(w, have, c.key);
    c.first_action = plan->n_actions;

    if (c.op && c.op->list_failed)
        return simple_status(plan, c.key, "ListFailed",
                             "listing the pool's resources failed; nothing planned",
                             RC_COND_UNKNOWN, false, 0);
    if (p->meta.deleting) {
        int na = 0, present = 0;

        r = destroy_pool(plan, w, have, c.key, p, &na, &present);
        if (r < 0)
            return r;
        if (p->spec.deletion_policy == RC_DELETE_ORPHAN)
            present = na;
        return simple_status(plan, c.key, present ? "Deleting" : "Deleted",
                             present ? (p->spec.deletion_policy == RC_DELETE_ORPHAN
                                            ? "releasing Azure resources (deletionPolicy Orphan)"
                                            : "destroying Azure resources")
                                     : "no owned Azure resources left",
                             RC_COND_FALSE, false, na);
    }
    if (p->spec.paused)
        return simple_status(plan, c.key, "Paused", "spec.paused is true; nothing planned",
                             RC_COND_UNKNOWN, false, 0);
    if (p->spec.mode == RC_MODE_SCALESET && p->spec.hybrid_worker.automation_account_id)
        return simple_status(plan, c.key, "Unsupported",
                             "Hybrid Runbook Worker registration needs mode VirtualMachines",
                             RC_COND_FALSE, true, 0);
    if (p->spec.expiry_policy_ref.name) {
        c.ep = rc_desired_policy(want, p->meta.namespace, p->spec.expiry_policy_ref.name);
        if (!c.ep) {
            char msg[256];

            rp_fmt(msg, sizeof(msg), "ExpiryPolicy %s/%s not found", p->meta.namespace,
                   p->spec.expiry_policy_ref.name);
            return simple_status(plan, c.key, "ExpiryPolicyNotFound", msg, RC_COND_FALSE, true, 0);
        }
    }
    if (!resolve_image(&c))
        return simple_status(plan, c.key, "ImageNotFound", c.stall_msg, RC_COND_FALSE, true, 0);
    rc_arm_spec_hash(p, c.spec_hash, sizeof(c.spec_hash));
    if (p->spec.mode == RC_MODE_SCALESET) {
        r = rc_arm_vmss_id(p, c.vmss_id, sizeof(c.vmss_id));
        if (r < 0)
            return r;
        i = rp_index_find(&w->ss_id, c.vmss_id);
        if (i != SIZE_MAX)
            c.ss = &have->scale_sets[i];
        if (c.ss && !scale_set_owned_by(c.ss, c.key) && !c.ss->own.managed && adopt(p)) {
            c.adopt = true; /* taken over: the model write below carries our tags */
        } else if (c.ss && !scale_set_owned_by(c.ss, c.key)) {
            char msg[RP_NOTE_MAX];

            rp_fmt(msg, sizeof(msg),
                   "scale set %s exists without the azpool tags of this pool; not touched",
                   c.ss->name ? c.ss->name : c.vmss_id);
            return simple_status(plan, c.key, "NotOwned", msg, RC_COND_FALSE, true, 0);
        }
        if (c.ss && c.ss->provisioning_state &&
            rc_strcasecmp(c.ss->provisioning_state, "Deleting") == 0)
            return simple_status(plan, c.key, "WaitingForDeletion",
                                 "the pool's previous scale set is still being deleted",
                                 RC_COND_FALSE, false, 0);
        if (c.ss && c.ss->halted_image)
            rc_strlcpy(c.halted, c.ss->halted_image, sizeof(c.halted));
    } else if (c.op && c.op->halted_image) {
        rc_strlcpy(c.halted, c.op->halted_image, sizeof(c.halted));
    }
    r = collect(&c);
    if (r < 0)
        goto out;
    if (p->spec.mode == RC_MODE_VIRTUALMACHINES) {
        r = rp_vm_effective(&c);
        if (r < 0)
            goto out;
    }
    /* a halt holds while the desired image is the halted one */
    if (c.halted[0]) {
        if (same_image(c.halted, c.target)) {
            char prev[RC_ARM_ID_MAX];

            if (c.ss && c.ss->image && !same_image(c.ss->image, c.halted))
                rc_strlcpy(prev, c.ss->image, sizeof(prev));
            else
                previous_image(&c, c.halted, prev, sizeof(prev));
            if (prev[0]) {
                rc_strlcpy(c.target, prev, sizeof(c.target));
                c.target_arm = c.target;
            }
        } else {
            c.halted[0] = '\0';
        }
    }
    classify(&c);
    r = autoscale(&c);
    if (r < 0)
        goto out;
    canary(&c);
    select_expiring(&c);
    rp_decide(&c);
    if (p->spec.mode == RC_MODE_SCALESET)
        r = rp_plan_vmss(&c);
    else
        r = rp_plan_vm(&c);
    if (r < 0)
        goto out;
    c.st = push_status(plan, c.key);
    if (!c.st) {
        r = -RC_ENOMEM;
        goto out;
    }
    r = fill_status(&c);
out:
    free(c.v);
    return r;
}

/* ---- sorting ---- */

static int action_cmp(const void *a, const void *b)
{
    const struct rc_action *x = a, *y = b;
    int d;

    d = strcmp(x->pool, y->pool);
    if (d)
        return d;
    if (x->wave != y->wave)
        return x->wave < y->wave ? -1 : 1;
    if (x->verb != y->verb)
        return x->verb < y->verb ? -1 : 1;
    d = strcmp(x->target, y->target);
    if (d)
        return d;
    return strcmp(x->key, y->key);
}

static int status_cmp(const void *a, const void *b)
{
    const struct rc_pool_status *x = a, *y = b;

    return strcmp(x->pool, y->pool);
}

int rc_plan(const struct rc_desired *want, const struct rc_observed *have,
            const struct rc_policy *pol, int64_t now_ms, struct rc_plan *ret, struct rc_err *reterr)
{
    struct rc_policy defpol;
    struct rp_world w;
    size_t i, j;
    int r = 0;
    bool by_pool = false;

    memset(ret, 0, sizeof(*ret));
    if (!want || !have)
        return rc_err_set(reterr, -RC_EINVAL, "", "rc_plan: want and have are required");
    if (!pol) {
        memset(&defpol, 0, sizeof(defpol));
        defpol.max_deletions = 1;
        pol = &defpol;
    }
    if (have->n_instances > RP_MAX_INSTANCES)
        return rc_err_set(reterr, -RC_ELIMIT, "", "too many observed instances (> %d)",
                          RP_MAX_INSTANCES);
    for (i = 0; i < want->n_pools && !by_pool; i++)
        by_pool =
            want->pools[i].spec.mode == RC_MODE_VIRTUALMACHINES || want->pools[i].meta.deleting;
    if (rp_world_build(&w, want, have, by_pool || (pol->collect_orphans && !pol->only_pool)) < 0)
        return rc_err_set(reterr, -RC_ENOMEM, "", "out of memory while planning");
    if (want->n_pools > 0) { /* one status per pool: reserve them at once */
        ret->pools = malloc(want->n_pools * sizeof(*ret->pools));
        if (!ret->pools) {
            rp_world_release(&w);
            return rc_err_set(reterr, -RC_ENOMEM, "", "out of memory while planning");
        }
        ret->cap_pools = want->n_pools;
    }
    for (i = 0; i < want->n_pools && r == 0; i++) {
        const struct rc_pool *p = &want->pools[i];

        if (pol->only_pool && strcmp(pol->only_pool, w.want_keys[i]) != 0)
            continue;
        r = plan_pool(&w, want, have, pol, now_ms, p, ret);
    }
    if (r == 0)
        r = plan_builds(want, have, pol, ret);
    if (r == 0 && pol->collect_orphans && !pol->only_pool)
        r = collect_orphans(&w, have, pol, ret);
    rp_world_release(&w);
    if (r < 0) {
        rc_plan_release(ret);
        if (r == -RC_ENOMEM)
            return rc_err_set(reterr, r, "", "out of memory while planning");
        if (r == -RC_ELIMIT)
            return rc_err_set(reterr, r, "", "too many observed resources");
        if (r == -RC_ECONFLICT)
            return rc_err_set(reterr, r, "", "no free VM name: every candidate is taken");
        if (r == -RC_EINVAL)
            return rc_err_set(reterr, r, "spec",
                              "cannot build an ARM request body from the spec (missing field?)");
        return rc_err_set(reterr, r, "", "planning failed");
    }
    if (ret->n_actions > 1)
        qsort(ret->actions, ret->n_actions, sizeof(ret->actions[0]), action_cmp);
    if (ret->n_pools > 1)
        qsort(ret->pools, ret->n_pools, sizeof(ret->pools[0]), status_cmp);
    /* pending per pool: both lists are sorted by pool */
    for (i = 0, j = 0; i < ret->n_pools; i++) {
        int pending = 0;

        while (j < ret->n_actions && strcmp(ret->actions[j].pool, ret->pools[i].pool) < 0)
            j++;
        while (j < ret->n_actions && strcmp(ret->actions[j].pool, ret->pools[i].pool) == 0) {
            pending++;
            j++;
        }
        ret->pools[i].pending = pending;
    }
    return 0;
}
