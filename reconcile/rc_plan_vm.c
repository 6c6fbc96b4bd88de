/*
 * rc_plan_vm.c - VirtualMachines mode writes (see rc_plan.c for the decisions).
 *
 * Names: "<base>-<slot>-<incarnation>" (rc_name_vm; 15 characters for
 * Windows so the host name is the VM name). A new VM takes the lowest slot
 * that has no good (kept) instance; its incarnation is one more than any VM
 * observed in that slot, so a replacement never collides with the VM it
 * replaces, and a re-issued create after a crash PUTs the same name.
 *
 * Writes per new VM, by wave: 0 NIC (skipped when it exists) and the worker
 * group when missing, 1 VM, 2 each extension and the hybrid worker, 3 the
 * HybridWorkerExtension. Existing VMs get what is missing (extensions,
 * worker, HybridWorkerExtension, afterCreate job) at waves 0/1. Victims: the
 * hybrid worker is deregistered (wave 0) before the VM is deleted (wave 1);
 * NIC and OS disk go with the VM (deleteOption Delete). The worker group is
 * never deleted (it cannot carry tags, others may use it).
 *
 * The HybridWorkerExtension needs the Automation account's
 * automationHybridServiceUrl, which is not part of the observed model: the
 * body carries the placeholder "$hybridServiceUrl:<automationAccountId>" and
 * the executor substitutes the URL it reads from the account (GET, cached).
 *
 * afterCreate hook: once a VM is provisioned (and registered), job attempt 1
 * is PUT; Failed/Stopped/Suspended attempts are retried up to `retries`
 * times; an attempt not finished within timeoutSeconds of the job's creation
 * (rc_obs_job.created_ms; when unknown, attempt k must end by VM created +
 * k * timeout) counts as failed. When the attempts are used up the VM is Failed (and replaced).
 * The VM is Ready only after a Completed job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_arm.h"
#include "rc_decide.h"
#include "rc_plan_int.h"
#include "rc_util.h"

#define RP_SLOTS_MAX 10000

static bool has_ext(const struct rc_obs_instance *o, const char *name)
{
    size_t i;

    for (i = 0; i < o->n_extensions; i++) {
        if (o->extensions[i].name && rc_strcasecmp(o->extensions[i].name, name) == 0)
            return true;
    }
    return false;
}

static const struct rc_obs_worker *worker_of(const struct rp_ctx *c, const char *vm_id)
{
    size_t i;

    if (!vm_id)
        return NULL;
    i = rp_index_find(&c->w->workers, vm_id);
    return i != SIZE_MAX ? &c->have->workers[i] : NULL;
}

/* The last job attempt of a VM (highest attempt), NULL when none. */
static const struct rc_obs_job *last_job(const struct rp_ctx *c, const char *vm_id)
{
    const struct rc_obs_job *best = NULL;
    size_t i, end;

    if (!vm_id)
        return NULL;
    for (i = rp_index_range(&c->w->jobs, vm_id, &end); i < end; i++) {
        const struct rc_obs_job *j = &c->have->jobs[c->w->jobs.v[i].idx];

        if (!best || j->attempt > best->attempt)
            best = j;
    }
    return best;
}

static bool job_failed(const struct rc_obs_job *j)
{
    return j->status &&
           (!rc_strcasecmp(j->status, "Failed") || !rc_strcasecmp(j->status, "Stopped") ||
            !rc_strcasecmp(j->status, "Suspended"));
}

static bool job_done(const struct rc_obs_job *j)
{
    return j->status && !rc_strcasecmp(j->status, "Completed");
}

static bool hrw(const struct rp_ctx *c)
{
    return c->p->spec.hybrid_worker.automation_account_id != NULL;
}

static bool hook(const struct rp_ctx *c)
{
    return c->p->spec.after_create.automation_account_id != NULL &&
           c->p->spec.after_create.name != NULL;
}

/* The HybridWorkerExtension finished installing (present and Succeeded, or
 * no state reported). */
static bool hrw_ext_ready(const struct rc_obs_instance *o)
{
    size_t i;

    for (i = 0; i < o->n_extensions; i++) {
        const struct rc_obs_extension *e = &o->extensions[i];

        if (e->name && rc_strcasecmp(e->name, RC_ARM_HRW_EXTENSION_NAME) == 0)
            return !e->provisioning_state || rc_strcasecmp(e->provisioning_state, "Succeeded") == 0;
    }
    return false;
}

static bool registered(const struct rp_ctx *c, const struct rc_obs_instance *o)
{
    return !hrw(c) || (worker_of(c, o->id) && hrw_ext_ready(o));
}

/* Next job attempt to start for o (0: none now); sets *ret_failed when the
 * attempts are used up. */
static int job_next(const struct rp_ctx *c, const struct rc_obs_instance *o, bool *ret_failed,
                    int64_t *ret_deadline)
{
    const struct rc_runbook_hook *h = &c->p->spec.after_create;
    const struct rc_obs_job *j = last_job(c, o->id);
    int64_t timeout = (int64_t)h->timeout_seconds * 1000;
    int max_attempts = h->retries + 1;
    bool failed;

    *ret_failed = false;
    *ret_deadline = 0;
    if (!j)
        return 1;
    if (job_done(j))
        return 0;
    failed = job_failed(j);
    if (!failed && timeout > 0 && (j->created_ms > 0 || o->created_ms > 0)) {
        int64_t deadline = j->created_ms > 0 ? j->created_ms + timeout
                                             : o->created_ms + (int64_t)j->attempt * timeout;

        if (c->now >= deadline)
            failed = true;
        else
            *ret_deadline = deadline;
    }
    if (!failed)
        return 0;
    if (j->attempt >= max_attempts) {
        *ret_failed = true;
        return 0;
    }
    return j->attempt + 1;
}

int rp_vm_effective(struct rp_ctx *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        struct rp_inst *x = &c->v[i];
        const struct rc_obs_instance *o = x->o;
        unsigned slot, inc;

        if (o->name && rc_name_vm_parse(o->name, &slot, &inc) == 0) {
            x->has_slot = true;
            x->slot = slot;
            x->inc = inc;
        }
        if (x->state != RC_INST_READY && x->state != RC_INST_REGISTERING)
            continue;
        if (!registered(c, o)) {
            x->state = RC_INST_REGISTERING;
            continue;
        }
        if (hook(c)) {
            bool failed;
            int64_t deadline;
            const struct rc_obs_job *j = last_job(c, o->id);

            (void)job_next(c, o, &failed, &deadline);
            if (failed)
                x->state = RC_INST_FAILED;
            else if (!j || !job_done(j))
                x->state = RC_INST_REGISTERING;
            else
                x->state = RC_INST_READY;
        }
    }
    return 0;
}

static int put_extensions(struct rp_ctx *c, const char *vm_name, const char *vm_id,
                          const struct rc_obs_instance *o, int wave)
{
    size_t i;
    char id[RC_ARM_ID_MAX];
    int r;

    for (i = 0; i < c->p->spec.n_extensions; i++) {
        const struct rc_extension *e = &c->p->spec.extensions[i];

        if (o && has_ext(o, e->name))
            continue;
        if (rc_arm_extension_id(vm_id, e->name, id, sizeof(id)) < 0)
            return -RC_EINVAL;
        r = rp_add(c, RC_VERB_CREATE, RC_HTTP_PUT, id, NULL, RC_API_COMPUTE,
                   rc_arm_extension_body(c->p, e), &vm_name, 1, false, 0, wave,
                   "extension %s on %s", e->name, vm_name);
        if (r < 0)
            return r;
    }
    return 0;
}

static int register_worker(struct rp_ctx *c, const char *vm_name, const char *vm_id,
                           const struct rc_obs_instance *o, int wave)
{
    char id[RC_ARM_ID_MAX], url[RC_ARM_ID_MAX + 32];
    int r;

    if (!hrw(c))
        return 0;
    if (!o || !worker_of(c, vm_id)) {
        if (rc_arm_worker_id(c->p, vm_id, id, sizeof(id)) < 0)
            return -RC_EINVAL;
        r = rp_add(c, RC_VERB_REGISTER, RC_HTTP_PUT, id, NULL, RC_API_AUTOMATION,
                   rc_arm_worker_body(vm_id), &vm_name, 1, false, 0, wave,
                   "register %s as hybrid worker in group %s", vm_name,
                   c->p->spec.hybrid_worker.group);
        if (r < 0)
            return r;
    }
    if (!o || !has_ext(o, RC_ARM_HRW_EXTENSION_NAME)) {
        if (rc_arm_extension_id(vm_id, RC_ARM_HRW_EXTENSION_NAME, id, sizeof(id)) < 0)
            return -RC_EINVAL;
        rp_fmt(url, sizeof(url), "$hybridServiceUrl:%s",
               c->p->spec.hybrid_worker.automation_account_id);
        r = rp_add(c, RC_VERB_REGISTER, RC_HTTP_PUT, id, NULL, RC_API_COMPUTE,
                   rc_arm_hrw_extension_body(c->p, url), &vm_name, 1, false, 0, wave + 1,
                   "%s on %s", RC_ARM_HRW_EXTENSION_NAME, vm_name);
        if (r < 0)
            return r;
    }
    return 0;
}

static int delete_vm(struct rp_ctx *c, const struct rp_inst *x)
{
    const struct rc_obs_worker *w = worker_of(c, x->o->id);
    const char *name = x->o->name;
    int r;

    if (w) {
        r = rp_add(c, RC_VERB_DEREGISTER, RC_HTTP_DELETE, w->id, NULL, RC_API_AUTOMATION, NULL,
                   &name, 1, false, 0, 0, "deregister hybrid worker of %s before deleting it (%s)",
                   name, x->why ? x->why : "");
        if (r < 0)
            return r;
    }
    return rp_add(c, RC_VERB_DELETE, RC_HTTP_DELETE, x->o->id, NULL, RC_API_COMPUTE, NULL, &name, 1,
                  false, 0, 1, "delete VM %s (%s)", name, x->why ? x->why : "");
}

static int drain_vm(struct rp_ctx *c, const struct rp_inst *x)
{
    json_t *tags = rp_tags_json(x->o->own.tags, x->o->own.n_tags, false);
    json_t *body;
    char t[RC_TIME_MAX];
    const char *name = x->o->name;

    if (!tags)
        return -RC_ENOMEM;
    rc_time_format(c->now, t, sizeof(t));
    json_object_set_new(tags, RC_TAG_DRAINING, json_string(t));
    body = rc_arm_tags_patch(tags);
    json_decref(tags);
    return rp_add(c, RC_VERB_UPDATE, RC_HTTP_PATCH, x->o->id, NULL, RC_API_COMPUTE, body, &name, 1,
                  false, 0, 0, "drain %s (busy, %s): tag %s", name, x->why ? x->why : "",
                  RC_TAG_DRAINING);
}

static int repair_vm(struct rp_ctx *c, struct rp_inst *x)
{
    const struct rc_obs_instance *o = x->o;
    const char *name = o->name;
    size_t before = c->plan->n_actions;
    int r, wave;

    if (!x->live || x->del || !o->id)
        return 0;
    r = put_extensions(c, o->name, o->id, o, 0);
    if (r == 0)
        r = register_worker(c, o->name, o->id, o, 0);
    if (r < 0)
        return r;
    /* the job runs after what this plan adds to the VM (extensions at wave
     * 0, worker 0, HybridWorkerExtension 1) */
    wave = c->plan->n_actions == before ? 0 : (registered(c, o) ? 1 : 2);
    if (hook(c) && o->state != RC_INST_PROVISIONING) {
        bool failed;
        int64_t deadline;
        int attempt = job_next(c, o, &failed, &deadline);
        char id[RC_ARM_ID_MAX];

        if (deadline)
            rp_wait(c, "Registering", deadline, "waiting for afterCreate runbook on %s", o->name);
        if (attempt > 0) {
            if (rc_arm_job_id(c->p, o->id, attempt, id, sizeof(id)) < 0)
                return -RC_EINVAL;
            r = rp_add(c, RC_VERB_RUN, RC_HTTP_PUT, id, NULL, RC_API_AUTOMATION,
                       rc_arm_job_body(c->p, o->id), &name, 1, true, attempt, wave,
                       "afterCreate runbook %s on %s (attempt %d of %d)",
                       c->p->spec.after_create.name, o->name, attempt,
                       c->p->spec.after_create.retries + 1);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* A name is taken when any observed VM has it (ours or not: an untagged VM
 * must never be overwritten by a PUT), or a NIC of that VM name is not ours. */
static bool name_taken(const struct rp_ctx *c, const char *name)
{
    char nic[RC_NAME_MAX + 8];
    size_t i, end;

    if (rp_index_find(&c->w->inst_name, name) != SIZE_MAX)
        return true;
    rp_fmt(nic, sizeof(nic), "%s-nic", name);
    for (i = rp_index_range(&c->w->nic_name, nic, &end); i < end; i++) {
        const struct rc_obs_nic *n = &c->have->nics[c->w->nic_name.v[i].idx];

        if (!(n->own.managed && n->own.pool && strcmp(n->own.pool, c->key) == 0))
            return true;
    }
    return false;
}

static int create_vm(struct rp_ctx *c, unsigned slot, unsigned inc)
{
    char name[RC_NAME_MAX + 1], vm_id[RC_ARM_ID_MAX], nic_id[RC_ARM_ID_MAX];
    const char *np = name;
    size_t maxlen =
        c->p->spec.os_profile.os_type == RC_OS_WINDOWS ? RC_HOST_MAX_WINDOWS : RC_HOST_MAX_LINUX;
    int64_t expires = 0;
    bool nic_exists = false;
    int r, tries;

    if (maxlen > RC_NAME_MAX)
        maxlen = RC_NAME_MAX;
    for (tries = 0;; tries++) {
        if (rc_name_vm(c->p->meta.namespace, c->p->meta.name, slot, inc, maxlen, name,
                       sizeof(name)) < 0)
            return -RC_EINVAL;
        if (!name_taken(c, name))
            break;
        if (tries >= 64)
            return -RC_ECONFLICT;
        inc++;
    }
    if (rc_arm_vm_id(c->p, name, vm_id, sizeof(vm_id)) < 0 ||
        rc_arm_nic_id(c->p, name, nic_id, sizeof(nic_id)) < 0)
        return -RC_EINVAL;
    if (c->ep)
        expires = rc_expiry_at(&c->ep->spec, name, c->now);
    nic_exists = rp_index_find(&c->w->nic_id, nic_id) != SIZE_MAX;
    if (!nic_exists) {
        r = rp_add(c, RC_VERB_CREATE, RC_HTTP_PUT, nic_id, NULL, RC_API_NETWORK,
                   rc_arm_nic_body(c->p, name, c->now), &np, 1, false, 0, 0, "NIC for new VM %s",
                   name);
        if (r < 0)
            return r;
    }
    r = rp_add(c, RC_VERB_CREATE, RC_HTTP_PUT, vm_id, NULL, RC_API_COMPUTE,
               rc_arm_vm_body(c->p, name, c->target_arm, c->now, expires), &np, 1, false, 0, 1,
               "create VM %s (slot %u) on %s", name, slot,
               strstr(c->target, "/versions/") ? strstr(c->target, "/versions/") + 10 : c->target);
    if (r == 0)
        r = put_extensions(c, name, vm_id, NULL, 2);
    if (r == 0)
        r = register_worker(c, name, vm_id, NULL, 2);
    return r;
}

/* Owned NICs of this pool that are attached to nothing and belong to no VM
 * that exists or is created by this plan (e.g. a create that never got past
 * the NIC before the pool shrank) are deleted. */
static int stray_nics(struct rp_ctx *c)
{
    size_t i, j, end;
    int r = 0;

    for (i = rp_index_range(&c->w->nic_pool, c->key, &end); i < end && r == 0; i++) {
        const struct rc_obs_nic *n = &c->have->nics[c->w->nic_pool.v[i].idx];
        char vm[RC_NAME_MAX + 8], vm_id[RC_ARM_ID_MAX];
        size_t len = n->name ? strlen(n->name) : 0;
        bool used = false;

        if (n->vm_id || len <= 4 || len - 4 >= sizeof(vm) || strcmp(n->name + len - 4, "-nic") ||
            (n->provisioning_state && !rc_strcasecmp(n->provisioning_state, "Deleting")))
            continue;
        memcpy(vm, n->name, len - 4);
        vm[len - 4] = '\0';
        if (rp_index_find(&c->w->inst_name, vm) != SIZE_MAX)
            continue;
        if (rc_arm_vm_id(c->p, vm, vm_id, sizeof(vm_id)) < 0)
            continue;
        for (j = c->first_action; j < c->plan->n_actions && !used; j++)
            used = rc_strcasecmp(c->plan->actions[j].target, vm_id) == 0;
        if (used)
            continue;
        r = rp_add(c, RC_VERB_DELETE, RC_HTTP_DELETE, n->id, NULL, RC_API_NETWORK, NULL, NULL, 0,
                   false, 0, 0, "delete NIC %s: its VM %s does not exist", n->name, vm);
    }
    return r;
}

int rp_plan_vm(struct rp_ctx *c)
{
    unsigned char *kept = NULL;
    unsigned *next_inc = NULL;
    size_t i, nslots;
    int r = 0, made = 0;
    unsigned s;
    char gid[RC_ARM_ID_MAX];

    /* the worker group */
    if (hrw(c) && c->creates > 0) {
        bool found = false;

        if (rc_arm_worker_group_id(c->p, gid, sizeof(gid)) < 0)
            return -RC_EINVAL;
        for (i = 0; i < c->have->n_groups; i++) {
            if (c->have->groups[i].id && rc_strcasecmp(c->have->groups[i].id, gid) == 0)
                found = true;
        }
        if (!found) {
            r = rp_add(c, RC_VERB_CREATE, RC_HTTP_PUT, gid, NULL, RC_API_AUTOMATION,
                       rc_arm_worker_group_body(), NULL, 0, false, 0, 0,
                       "hybrid worker group %s (missing)", c->p->spec.hybrid_worker.group);
            if (r < 0)
                return r;
        }
    }
    for (i = 0; i < c->n && r == 0; i++) {
        struct rp_inst *x = &c->v[i];

        if (x->del)
            r = delete_vm(c, x);
        else if (x->drain)
            r = drain_vm(c, x);
        if (r == 0 && x->recycle_reimage && x->live && !x->del) {
            const char *name = x->o->name;

            if (x->busy) {
                rp_wait(c, "WaitingForDrain", 0, "%s busy; reimage after its job", name);
            } else {
                c->n_reimage++;
                r = rp_add(c, RC_VERB_REIMAGE, RC_HTTP_POST, x->o->id, "/reimage", RC_API_COMPUTE,
                           json_pack("{s:b}", "tempDisk", 0), &name, 1, false, 0, 0,
                           "reimage %s after its job (recycleAfterJob Reimage)", name);
            }
        }
        if (r == 0 && !x->recycle_reimage)
            r = repair_vm(c, x);
    }
    if (r < 0 || c->creates <= 0)
        return r < 0 ? r : stray_nics(c);
    /* slots: lowest without a kept instance; incarnation after every observed one */
    nslots = (size_t)c->desired + (size_t)c->creates + c->n + 1;
    if (nslots > RP_SLOTS_MAX)
        nslots = RP_SLOTS_MAX;
    kept = calloc(nslots, 1);
    next_inc = calloc(nslots, sizeof(unsigned));
    if (!kept || !next_inc) {
        r = -RC_ENOMEM;
        goto out;
    }
    for (i = 0; i < c->n; i++) {
        const struct rp_inst *x = &c->v[i];

        if (!x->has_slot || x->slot >= nslots)
            continue;
        if (x->live && !x->old && !x->del)
            kept[x->slot] = 1;
        if (x->inc + 1 > next_inc[x->slot])
            next_inc[x->slot] = x->inc + 1;
    }
    for (s = 0; s < nslots && made < c->creates && r == 0; s++) {
        if (kept[s])
            continue;
        r = create_vm(c, s, next_inc[s]);
        made++;
    }
    if (r == 0)
        r = stray_nics(c);
out:
    free(kept);
    free(next_inc);
    return r;
}
