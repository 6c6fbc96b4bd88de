/*
 * run_plan.c - runs the data-driven planner cases (tests/cases/plan/NNN-name.yaml).
 *
 * Usage: run_plan [DIR] (default tests/cases/plan, run from the repo root).
 * One line per failure ("FAIL file: detail"), then "N passed, N failed"; exit 1
 * on any failure.
 *
 * Each case is planned, planned again (the two plans must serialise to the
 * same bytes: determinism), checked against `expect` / `expect_error` /
 * `expect_status`, then APPLIED to the observed state (tests/support/
 * plan_apply.c simulates each write's immediate ARM effect) and planned once
 * more at the same `now`: that plan must be empty. Every name the plan writes
 * must fit Azure's limits (<= 64; `max_name` sets a lower bound to check, e.g.
 * 15 for Windows VM names).
 *
 * Case format (YAML):
 *   now: "2026-11-23T10:00:00Z"
 *   desired:                       # compact objects
 *     - {kind: WorkerPool, name: ns/name, spec: {...}, deleting: true?, uid: "..."?,
 *        annotations: {..}?}
 *   For WorkerPool the driver fills subscriptionId (SUB below), resourceGroup
 *   rg-workers, location westeurope, vmSize Standard_D2s_v5, network.subnetId
 *   and, when neither image nor imageRef is given, image {id: <v1.0.0 of the
 *   base gallery definition>}. `image: "1.5.0"` (a string) is short for
 *   {id: <base definition>/versions/1.5.0}; the same short form works for every
 *   image field of `observed`.
 *   observed:                      # a list = instances only, or a mapping:
 *     instances:
 *       - name: hw_0               # required
 *         pool: ns/name            # default: the first WorkerPool of desired
 *         instanceId: "0"          # ScaleSet: default = text after the last '_'
 *         createdAt: "-2h"         # RFC 3339 or a Go duration before now (default -1h)
 *         state: Ready             # Provisioning|Registering|Ready|Draining|Deleting|Failed
 *         image: "1.0.0"           # default: the pool's inline image (else base 1.0.0)
 *         busy: false
 *         latestModel: true        # ScaleSet
 *         specHash: current        # default the pool's current hash; any other text = old
 *         untagged: false          # true: no azpool tags at all
 *         tags: {k: v}             # extra tags
 *         drainingSince: "-10m"
 *         expiresAt: ...
 *         extensions: [names]      # VirtualMachines: default all of the spec's (+HRW)
 *         registered: true         # VirtualMachines with HRW: worker + extension exist
 *         job: Completed           # afterCreate: status of attempt 1 (default Completed;
 *                                  # "none": no job); or jobs: [{attempt, status,
 *                                  # createdAt?}]
 *     scaleSets:                   # ScaleSet pools with instances get one by default
 *       - {pool, name?, capacity?, image?, specHash?, lastScale?, halted?, untagged?,
 *          state?, orchestration?, tags?, haltedHash?}
 *         halted: image            # tag azpool.halted-image; azpool.halted-spec-hash
 *         haltedHash: current      # is the scale set's spec hash unless given here
 *                                  # (current = the pool's; "none" = no such tag)
 *     nics: [{name, pool?, vm?}]
 *     workers: [{vm: name, pool?}]
 *     groups: [{pool}]             # given: exactly these; default: one per HRW pool
 *                                  # that has instances
 *     imageVersions: [{name: "1.5.0", definition?, exclude?, state?}]
 *     templates: [{id, runState?, builtRevision?}]
 *     pools: {ns/name: {signal?, busy: [..], jobDone: [..], listFailed?, lastScale?,
 *             lastScaleOut?, lastScaleIn?, haltedImage?, desiredReplicas?}}
 *   policy: {collect_orphans, max_deletions, allow_mass_delete, only_pool,
 *            zones: [{name, offset: seconds east of UTC}]}
 *   expect:                        # the plan, in plan order
 *     - {verb, target: <suffix>, path: <suffix>, method, instances: [..], count, wave,
 *        reason: <substring>, pool}
 *   expect_error: <substring of the planning or decoding error>
 *   expect_status:                 # of `pool` or the first WorkerPool
 *     {pool, reason, message (exact), message_contains, replicas, ready, updated,
 *      expiring, desired, requeue_at (time), ready_cond: "True"|"False"|"Unknown",
 *      degraded, stalled, halted_image, last_scale}
 *   max_name: 15
 * Unknown keys (top level, desired[], observed.*, policy, expect[],
 * expect_status) fail the case, so a typo cannot silently weaken it.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plan_apply.h"
#include "rc_arm.h"
#include "rc_model.h"
#include "rc_node.h"
#include "rc_observed.h"
#include "rc_plan.h"
#include "rc_util.h"

#define SUB "11111111-2222-3333-4444-555555555555"
#define RG  "rg-workers"
#define IMG_DEF                                                                                    \
    "/subscriptions/" SUB "/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/g/"     \
    "images/ubuntu"
#define SUBNET                                                                                     \
    "/subscriptions/" SUB "/resourceGroups/" RG "/providers/Microsoft.Network/virtualNetworks/"    \
    "vnet/subnets/workers"

struct kase {
    const char *file;
    json_t *doc;
    int64_t now;
    struct rc_desired want;
    struct rc_observed have;
    struct rc_policy pol;
    struct rc_tz zones[8];
    int64_t zone_at[8];
    int32_t zone_off[8];
    char fail[4096];
    size_t fail_len;
};

static void failf(struct kase *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct kase *k, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (k->fail_len >= sizeof(k->fail) - 2)
        return;
    if (k->fail_len)
        k->fail[k->fail_len++] = '\n';
    w = snprintf(k->fail + k->fail_len, sizeof(k->fail) - k->fail_len, "FAIL %s: ", k->file);
    if (w > 0)
        k->fail_len += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(k->fail + k->fail_len, sizeof(k->fail) - k->fail_len, fmt, ap);
    va_end(ap);
    if (w > 0)
        k->fail_len += (size_t)w;
    if (k->fail_len >= sizeof(k->fail))
        k->fail_len = sizeof(k->fail) - 1;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void expand_image(const char *s, char *buf, size_t size)
{
    if (!s)
        buf[0] = '\0';
    else if (s[0] == '/' || strchr(s, ':'))
        snprintf(buf, size, "%s", s);
    else
        snprintf(buf, size, "%s/versions/%s", IMG_DEF, s);
}

/* RFC 3339, or a Go duration before now ("-2h" or "2h" both mean 2h ago). */
static int parse_when(struct kase *k, const json_t *v, int64_t *ret)
{
    const char *s = json_string_value(v);
    int64_t d;

    if (!s)
        return -1;
    if (s[0] == '-' || (s[0] >= '0' && s[0] <= '9' && !strchr(s, 'T'))) {
        if (rc_duration_parse(s[0] == '-' ? s + 1 : s, &d, NULL) < 0)
            return -1;
        *ret = k->now - d;
        return 0;
    }
    return rc_time_parse(s, ret, NULL) < 0 ? -1 : 0;
}

/* ---- desired ---- */

static int build_desired(struct kase *k, const json_t *list)
{
    size_t i;
    json_t *d;
    struct rc_errs errs = {0};
    int r = 0;

    json_array_foreach(list, i, d)
    {
        const char *kind = jstr(d, "kind"), *name = jstr(d, "name");
        json_t *obj, *meta, *spec;
        char ns[128], nm[128];
        const char *slash = name ? strchr(name, '/') : NULL;

        if (!kind || !slash) {
            failf(k, "desired[%zu]: kind and name ns/name are required", i);
            return -1;
        }
        snprintf(ns, sizeof(ns), "%.*s", (int)(slash - name), name);
        snprintf(nm, sizeof(nm), "%s", slash + 1);
        spec = json_deep_copy(json_object_get(d, "spec"));
        if (!spec)
            spec = json_object();
        if (strcmp(kind, "WorkerPool") == 0) {
            json_t *img = json_object_get(spec, "image");

            if (!json_object_get(spec, "subscriptionId"))
                json_object_set_new(spec, "subscriptionId", json_string(SUB));
            if (!json_object_get(spec, "resourceGroup"))
                json_object_set_new(spec, "resourceGroup", json_string(RG));
            if (!json_object_get(spec, "location"))
                json_object_set_new(spec, "location", json_string("westeurope"));
            if (!json_object_get(spec, "vmSize"))
                json_object_set_new(spec, "vmSize", json_string("Standard_D2s_v5"));
            if (!json_object_get(spec, "network"))
                json_object_set_new(spec, "network", json_pack("{s:s}", "subnetId", SUBNET));
            if (json_is_string(img)) {
                char buf[1024];

                expand_image(json_string_value(img), buf, sizeof(buf));
                json_object_set_new(spec, "image", json_pack("{s:s}", "id", buf));
            } else if (!img && !json_object_get(spec, "imageRef")) {
                json_object_set_new(spec, "image",
                                    json_pack("{s:s}", "id", IMG_DEF "/versions/1.0.0"));
            }
        }
        meta = json_pack("{s:s, s:s}", "name", nm, "namespace", ns);
        if (jstr(d, "uid"))
            json_object_set_new(meta, "uid", json_string(jstr(d, "uid")));
        if (json_is_true(json_object_get(d, "deleting")))
            json_object_set_new(meta, "deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
        if (json_object_get(d, "annotations"))
            json_object_set(meta, "annotations", json_object_get(d, "annotations"));
        obj = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", RC_API_VERSION, "kind", kind,
                        "metadata", meta, "spec", spec);
        if (rc_decode_json(&k->want, k->file, obj, &errs, NULL) < 0)
            r = -1;
        json_decref(obj);
    }
    if (r < 0) {
        char buf[512];
        const char *want_err = jstr(k->doc, "expect_error");

        rc_err_format(&errs.v[0], buf, sizeof(buf));
        if (!want_err || !strstr(buf, want_err))
            failf(k, "decode: %s", buf);
        else
            r = 1; /* expected */
    }
    rc_errs_release(&errs);
    return r;
}

static const struct rc_pool *find_pool(struct kase *k, const char *key)
{
    size_t i;
    char buf[300];

    for (i = 0; i < k->want.n_pools; i++) {
        snprintf(buf, sizeof(buf), "%s/%s", k->want.pools[i].meta.namespace,
                 k->want.pools[i].meta.name);
        if (!key || strcmp(buf, key) == 0)
            return &k->want.pools[i];
    }
    return NULL;
}

static void pool_key(const struct rc_pool *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", p->meta.namespace, p->meta.name);
}

/* ---- observed ---- */

static json_t *owner_tags(struct kase *k, const char *pool_key_, const struct rc_pool *p,
                          const json_t *e, const char *image)
{
    json_t *tags = json_object();
    const char *hash = jstr(e, "specHash");
    char h[32];

    (void)k;
    if (json_is_true(json_object_get(e, "untagged"))) {
        json_object_update(tags, json_object_get(e, "tags"));
        return tags;
    }
    json_object_set_new(tags, RC_TAG_MANAGED_BY, json_string(RC_MANAGED_BY_VALUE));
    json_object_set_new(tags, RC_TAG_POOL, json_string(pool_key_));
    if (image && image[0])
        json_object_set_new(tags, RC_TAG_IMAGE, json_string(image));
    if (hash && strcmp(hash, "current") != 0) {
        json_object_set_new(tags, RC_TAG_SPEC_HASH, json_string(hash));
    } else if (p) {
        rc_arm_spec_hash(p, h, sizeof(h));
        json_object_set_new(tags, RC_TAG_SPEC_HASH, json_string(h));
    }
    json_object_update(tags, json_object_get(e, "tags"));
    return tags;
}

static void vmss_id_of(const struct rc_pool *p, const char *key, const char *name, char *buf,
                       size_t size)
{
    if (p && !name) {
        rc_arm_vmss_id(p, buf, size);
        return;
    }
    if (!name) {
        const char *s = strchr(key, '/');

        name = s ? s + 1 : key;
    }
    snprintf(buf, size,
             "/subscriptions/" SUB "/resourceGroups/" RG
             "/providers/Microsoft.Compute/virtualMachineScaleSets/%s",
             name);
}

static void vm_id_of(const struct rc_pool *p, const char *name, char *buf, size_t size)
{
    if (p && rc_arm_vm_id(p, name, buf, size) == 0)
        return;
    snprintf(buf, size,
             "/subscriptions/" SUB "/resourceGroups/" RG
             "/providers/Microsoft.Compute/virtualMachines/%s",
             name);
}

static int add_scale_set(struct kase *k, const json_t *e, const char *key)
{
    const struct rc_pool *p = find_pool(k, key);
    struct rc_obs_scale_set *ss = pa_add_scale_set(&k->have);
    char id[1024], img[1024];
    json_t *tags;
    int64_t t;

    if (!ss)
        return -1;
    vmss_id_of(p, key, jstr(e, "name"), id, sizeof(id));
    ss->id = rc_strdup(id);
    ss->name = rc_strdup(strrchr(id, '/') + 1);
    ss->orchestration =
        rc_strdup(jstr(e, "orchestration")
                      ? jstr(e, "orchestration")
                      : (p && p->spec.orchestration == RC_ORCH_FLEXIBLE ? "Flexible" : "Uniform"));
    expand_image(jstr(e, "image") ? jstr(e, "image")
                                  : (p && p->spec.image.id ? p->spec.image.id : "1.0.0"),
                 img, sizeof(img));
    ss->image = rc_strdup(img);
    ss->capacity = json_is_integer(json_object_get(e, "capacity"))
                       ? json_integer_value(json_object_get(e, "capacity"))
                       : -1;
    ss->provisioning_state = rc_strdup(jstr(e, "state") ? jstr(e, "state") : "Succeeded");
    tags = owner_tags(k, key, p, e, img);
    if (jstr(e, "lastScale") && parse_when(k, json_object_get(e, "lastScale"), &t) == 0) {
        char tb[RC_TIME_MAX];

        rc_time_format(t, tb, sizeof(tb));
        json_object_set_new(tags, RC_TAG_LAST_SCALE, json_string(tb));
    }
    if (jstr(e, "halted")) {
        char h[1024];
        const char *hh = jstr(e, "haltedHash");
        json_t *cur = json_object_get(tags, RC_TAG_SPEC_HASH);

        expand_image(jstr(e, "halted"), h, sizeof(h));
        json_object_set_new(tags, RC_TAG_HALTED_IMAGE, json_string(h));
        /* the halt's write records the spec hash it restored: by default the
         * scale set's; "none" leaves it out (a halt recorded without it) */
        if (!hh)
            hh = json_is_string(cur) ? json_string_value(cur) : NULL;
        if (hh && strcmp(hh, "none") != 0) {
            char ph[32];

            if (strcmp(hh, "current") == 0 && p) {
                rc_arm_spec_hash(p, ph, sizeof(ph));
                hh = ph;
            }
            json_object_set_new(tags, RC_TAG_HALTED_HASH, json_string(hh));
        }
    }
    pa_set_tags(&ss->own, tags);
    json_decref(tags);
    ss->spec_hash = rc_strdup(pa_tag(&ss->own, RC_TAG_SPEC_HASH));
    ss->halted_image = rc_strdup(pa_tag(&ss->own, RC_TAG_HALTED_IMAGE));
    if (pa_tag(&ss->own, RC_TAG_LAST_SCALE))
        rc_time_parse(pa_tag(&ss->own, RC_TAG_LAST_SCALE), &ss->last_scale_ms, NULL);
    return 0;
}

static const char *state_names[] = {"Provisioning", "Registering", "Ready",
                                    "Draining",     "Deleting",    "Failed"};

static int add_instance(struct kase *k, const json_t *e, size_t idx)
{
    const char *key = jstr(e, "pool");
    const struct rc_pool *p;
    struct rc_obs_instance *o;
    const char *name = jstr(e, "name"), *st = jstr(e, "state");
    char buf[2200], img[1024], defkey[300];
    json_t *tags, *v;
    size_t i;
    bool vmss;

    if (!key) {
        p = find_pool(k, NULL);
        if (!p)
            return -1;
        pool_key(p, defkey, sizeof(defkey));
        key = defkey;
    }
    p = find_pool(k, key);
    vmss = p ? p->spec.mode == RC_MODE_SCALESET : json_object_get(e, "instanceId") != NULL;
    if (!name)
        return -1;
    o = pa_add_instance(&k->have);
    if (!o)
        return -1;
    o->name = rc_strdup(name);
    expand_image(jstr(e, "image") ? jstr(e, "image")
                                  : (p && p->spec.image.id ? p->spec.image.id : "1.0.0"),
                 img, sizeof(img));
    o->image = rc_strdup(img);
    o->state = RC_INST_READY;
    for (i = 0; st && i < 6; i++) {
        if (strcmp(st, state_names[i]) == 0)
            o->state = (enum rc_inst_state)i;
    }
    o->provisioning_state = rc_strdup(o->state == RC_INST_PROVISIONING ? "Creating" : "Succeeded");
    o->busy = json_is_true(json_object_get(e, "busy"));
    o->latest_model = !json_is_false(json_object_get(e, "latestModel"));
    o->created_ms = k->now - 3600 * 1000;
    if (json_object_get(e, "createdAt") &&
        parse_when(k, json_object_get(e, "createdAt"), &o->created_ms) < 0)
        return -1;
    if (vmss) {
        char ssid[1024];
        const char *iid = jstr(e, "instanceId");
        const char *us = strrchr(name, '_');

        if (!iid && p && p->spec.orchestration == RC_ORCH_FLEXIBLE)
            iid = name; /* Flexible: instance ids are VM names */
        if (!iid) {
            snprintf(buf, sizeof(buf), "%s", us ? us + 1 : "");
            if (!us)
                snprintf(buf, sizeof(buf), "%zu", idx);
            iid = buf;
        }
        o->instance_id = rc_strdup(iid);
        vmss_id_of(p, key, NULL, ssid, sizeof(ssid));
        o->scale_set_id = rc_strdup(ssid);
        if (p && p->spec.orchestration == RC_ORCH_FLEXIBLE)
            vm_id_of(p, name, buf, sizeof(buf)); /* Flexible members are plain VMs */
        else
            snprintf(buf, sizeof(buf), "%s/virtualMachines/%s", ssid, o->instance_id);
        o->id = rc_strdup(buf);
    } else {
        vm_id_of(p, name, buf, sizeof(buf));
        o->id = rc_strdup(buf);
    }
    tags = owner_tags(k, key, p, e, img);
    if (json_object_get(e, "drainingSince")) {
        int64_t t;
        char tb[RC_TIME_MAX];

        if (parse_when(k, json_object_get(e, "drainingSince"), &t) < 0)
            return -1;
        rc_time_format(t, tb, sizeof(tb));
        json_object_set_new(tags, RC_TAG_DRAINING, json_string(tb));
    }
    if (json_object_get(e, "expiresAt")) {
        int64_t t;
        char tb[RC_TIME_MAX];

        if (parse_when(k, json_object_get(e, "expiresAt"), &t) < 0)
            return -1;
        rc_time_format(t, tb, sizeof(tb));
        json_object_set_new(tags, RC_TAG_EXPIRES_AT, json_string(tb));
    }
    pa_set_tags(&o->own, tags);
    json_decref(tags);
    o->spec_hash = rc_strdup(pa_tag(&o->own, RC_TAG_SPEC_HASH));
    if (pa_tag(&o->own, RC_TAG_DRAINING))
        rc_time_parse(pa_tag(&o->own, RC_TAG_DRAINING), &o->draining_since_ms, NULL);
    if (pa_tag(&o->own, RC_TAG_EXPIRES_AT))
        rc_time_parse(pa_tag(&o->own, RC_TAG_EXPIRES_AT), &o->expires_ms, NULL);
    if (!vmss && p) {
        bool hrw = p->spec.hybrid_worker.automation_account_id != NULL;
        bool registered = !json_is_false(json_object_get(e, "registered"));
        json_t *exts = json_object_get(e, "extensions");

        if (exts) {
            json_array_foreach(exts, i, v)
            {
                pa_add_extension(o, json_string_value(v));
            }
        } else {
            for (i = 0; i < p->spec.n_extensions; i++)
                pa_add_extension(o, p->spec.extensions[i].name);
            if (hrw && registered)
                pa_add_extension(o, RC_ARM_HRW_EXTENSION_NAME);
        }
        if (hrw && registered) {
            struct rc_obs_worker *w = pa_add_worker(&k->have);
            char wid[1024];
            const char *vm_id = k->have.instances[k->have.n_instances - 1].id;

            if (!w)
                return -1;
            rc_arm_worker_id(p, vm_id, wid, sizeof(wid));
            w->id = rc_strdup(wid);
            w->name = rc_strdup(strrchr(wid, '/') + 1);
            w->vm_resource_id = rc_strdup(vm_id);
        }
        if (p->spec.after_create.automation_account_id) {
            json_t *jobs = json_object_get(e, "jobs");
            const char *job = jstr(e, "job");

            if (!jobs && !(job && strcmp(job, "none") == 0)) {
                jobs = json_pack("[{s:i, s:s}]", "attempt", 1, "status", job ? job : "Completed");
            } else {
                json_incref(jobs);
            }
            json_array_foreach(jobs, i, v)
            {
                struct rc_obs_job *j = pa_add_job(&k->have);
                const char *vm_id = k->have.instances[k->have.n_instances - 1].id;
                char jid[1024];
                int att = (int)json_integer_value(json_object_get(v, "attempt"));

                if (!j)
                    return -1;
                rc_arm_job_id(p, vm_id, att, jid, sizeof(jid));
                j->id = rc_strdup(jid);
                j->attempt = att;
                j->status = rc_strdup(jstr(v, "status"));
                if (json_object_get(v, "createdAt") &&
                    parse_when(k, json_object_get(v, "createdAt"), &j->created_ms) < 0)
                    return -1;
                j->instance_id = rc_strdup(vm_id);
            }
            json_decref(jobs);
        }
    }
    return 0;
}

static int strlist(const json_t *a, char ***ret, size_t *ret_n)
{
    size_t i;
    json_t *v;

    *ret = calloc(json_array_size(a) + 1, sizeof(char *));
    if (!*ret)
        return -1;
    json_array_foreach(a, i, v)
    {
        (*ret)[i] = rc_strdup(json_string_value(v));
    }
    *ret_n = json_array_size(a);
    return 0;
}

static int build_observed(struct kase *k, const json_t *obs)
{
    json_t *insts = json_is_array(obs) ? (json_t *)obs : json_object_get(obs, "instances");
    json_t *e, *v;
    size_t i, j;
    const char *key;

    json_array_foreach(json_object_get(obs, "scaleSets"), i, e)
    {
        char dk[300];

        key = jstr(e, "pool");
        if (!key && find_pool(k, NULL)) {
            pool_key(find_pool(k, NULL), dk, sizeof(dk));
            key = dk;
        }
        if (!key || add_scale_set(k, e, key) < 0) {
            failf(k, "observed.scaleSets[%zu] invalid", i);
            return -1;
        }
    }
    json_array_foreach(insts, i, e)
    {
        if (add_instance(k, e, i) < 0) {
            failf(k, "observed.instances[%zu] invalid", i);
            return -1;
        }
    }
    /* default scale sets for ScaleSet pools that have instances */
    for (i = 0; i < k->have.n_instances; i++) {
        const char *ssid = k->have.instances[i].scale_set_id;
        bool found = false;

        if (!ssid)
            continue;
        for (j = 0; j < k->have.n_scale_sets; j++)
            found = found || rc_strcasecmp(k->have.scale_sets[j].id, ssid) == 0;
        if (!found) {
            const char *pk = k->have.instances[i].own.pool;
            json_t *empty = json_object();
            char dk[300];

            if (!pk) {
                pool_key(find_pool(k, NULL), dk, sizeof(dk));
                pk = dk;
            }
            add_scale_set(k, empty, pk);
            json_decref(empty);
        }
    }
    for (j = 0; j < k->have.n_scale_sets; j++) {
        struct rc_obs_scale_set *ss = &k->have.scale_sets[j];

        if (ss->capacity < 0) {
            ss->capacity = 0;
            for (i = 0; i < k->have.n_instances; i++) {
                const struct rc_obs_instance *o = &k->have.instances[i];

                if (o->scale_set_id && rc_strcasecmp(o->scale_set_id, ss->id) == 0 &&
                    o->state != RC_INST_DELETING)
                    ss->capacity++;
            }
        }
    }
    json_array_foreach(json_object_get(obs, "nics"), i, e)
    {
        struct rc_obs_nic *n = pa_add_nic(&k->have);
        char dk[300], id[1024];
        const struct rc_pool *p;
        json_t *tags;

        key = jstr(e, "pool");
        if (!key) {
            pool_key(find_pool(k, NULL), dk, sizeof(dk));
            key = dk;
        }
        p = find_pool(k, key);
        snprintf(id, sizeof(id),
                 "/subscriptions/" SUB "/resourceGroups/" RG
                 "/providers/Microsoft.Network/networkInterfaces/%s",
                 jstr(e, "name"));
        n->id = rc_strdup(id);
        n->name = rc_strdup(jstr(e, "name"));
        if (jstr(e, "vm")) {
            vm_id_of(p, jstr(e, "vm"), id, sizeof(id));
            n->vm_id = rc_strdup(id);
        }
        tags = owner_tags(k, key, p, e, NULL);
        pa_set_tags(&n->own, tags);
        json_decref(tags);
    }
    json_array_foreach(json_object_get(obs, "workers"), i, e)
    {
        struct rc_obs_worker *w = pa_add_worker(&k->have);
        char dk[300], id[1024], wid[1024];
        const struct rc_pool *p;

        key = jstr(e, "pool");
        if (!key) {
            pool_key(find_pool(k, NULL), dk, sizeof(dk));
            key = dk;
        }
        p = find_pool(k, key);
        vm_id_of(p, jstr(e, "vm"), id, sizeof(id));
        if (p && p->spec.hybrid_worker.automation_account_id)
            rc_arm_worker_id(p, id, wid, sizeof(wid));
        else
            snprintf(wid, sizeof(wid),
                     "/subscriptions/" SUB "/resourceGroups/" RG
                     "/providers/Microsoft.Automation/automationAccounts/aa/"
                     "hybridRunbookWorkerGroups/g/hybridRunbookWorkers/w-%s",
                     jstr(e, "vm"));
        w->id = rc_strdup(wid);
        w->vm_resource_id = rc_strdup(id);
    }
    if (json_object_get(obs, "groups")) {
        json_array_foreach(json_object_get(obs, "groups"), i, e)
        {
            const struct rc_pool *p = find_pool(k, jstr(e, "pool"));
            struct rc_obs_worker_group *g = pa_add_group(&k->have);
            char id[1024];

            if (!p || !g)
                return -1;
            rc_arm_worker_group_id(p, id, sizeof(id));
            g->id = rc_strdup(id);
        }
    } else {
        for (i = 0; i < k->want.n_pools; i++) {
            const struct rc_pool *p = &k->want.pools[i];
            char pk[300], id[1024];
            bool any = false;

            if (!p->spec.hybrid_worker.automation_account_id)
                continue;
            pool_key(p, pk, sizeof(pk));
            for (j = 0; j < k->have.n_instances; j++)
                any = any || (k->have.instances[j].own.pool &&
                              strcmp(k->have.instances[j].own.pool, pk) == 0);
            if (any) {
                struct rc_obs_worker_group *g = pa_add_group(&k->have);

                rc_arm_worker_group_id(p, id, sizeof(id));
                g->id = rc_strdup(id);
            }
        }
    }
    json_array_foreach(json_object_get(obs, "imageVersions"), i, e)
    {
        struct rc_obs_image_version *iv = pa_add_image_version(&k->have);
        const char *def = jstr(e, "definition") ? jstr(e, "definition") : IMG_DEF;
        char id[1024];

        snprintf(id, sizeof(id), "%s/versions/%s", def, jstr(e, "name"));
        iv->id = rc_strdup(id);
        iv->image_definition_id = rc_strdup(def);
        iv->name = rc_strdup(jstr(e, "name"));
        iv->exclude_from_latest = json_is_true(json_object_get(e, "exclude"));
        iv->provisioning_state = rc_strdup(jstr(e, "state") ? jstr(e, "state") : "Succeeded");
    }
    json_array_foreach(json_object_get(obs, "templates"), i, e)
    {
        struct rc_obs_image_template *t = pa_add_template(&k->have);

        t->id = rc_strdup(jstr(e, "id"));
        t->run_state = rc_strdup(jstr(e, "runState"));
        t->built_revision = json_integer_value(json_object_get(e, "builtRevision"));
    }
    {
        const char *pk;

        json_object_foreach(json_object_get(obs, "pools"), pk, v)
        {
            struct rc_obs_pool *op = rc_observed_pool(&k->have, pk);
            int64_t t;

            if (!op)
                return -1;
            if (json_is_integer(json_object_get(v, "signal"))) {
                op->has_signal = true;
                op->signal = json_integer_value(json_object_get(v, "signal"));
            }
            if (json_object_get(v, "busy"))
                strlist(json_object_get(v, "busy"), &op->busy, &op->n_busy);
            if (json_object_get(v, "jobDone"))
                strlist(json_object_get(v, "jobDone"), &op->job_done, &op->n_job_done);
            op->list_failed = json_is_true(json_object_get(v, "listFailed"));
            if (json_is_integer(json_object_get(v, "desiredReplicas")))
                op->desired_replicas =
                    (int)json_integer_value(json_object_get(v, "desiredReplicas"));
            if (parse_when(k, json_object_get(v, "lastScale"), &t) == 0)
                op->last_scale_ms = t;
            if (parse_when(k, json_object_get(v, "lastScaleOut"), &t) == 0)
                op->last_scale_out_ms = t;
            if (parse_when(k, json_object_get(v, "lastScaleIn"), &t) == 0)
                op->last_scale_in_ms = t;
            if (jstr(v, "haltedImage")) {
                char h[1024];

                expand_image(jstr(v, "haltedImage"), h, sizeof(h));
                op->halted_image = rc_strdup(h);
            }
        }
    }
    return 0;
}

/* ---- policy ---- */

static void build_policy(struct kase *k, const json_t *p)
{
    json_t *z;
    size_t i;

    rc_policy_init(&k->pol);
    if (!p)
        return;
    k->pol.collect_orphans = json_is_true(json_object_get(p, "collect_orphans"));
    if (json_is_integer(json_object_get(p, "max_deletions")))
        k->pol.max_deletions = (int)json_integer_value(json_object_get(p, "max_deletions"));
    k->pol.allow_mass_delete = json_is_true(json_object_get(p, "allow_mass_delete"));
    k->pol.only_pool = jstr(p, "only_pool");
    json_array_foreach(json_object_get(p, "zones"), i, z)
    {
        if (i >= 8)
            break;
        k->zone_at[i] = 0;
        k->zone_off[i] = (int32_t)json_integer_value(json_object_get(z, "offset"));
        k->zones[i].name = jstr(z, "name");
        k->zones[i].at_ms = &k->zone_at[i];
        k->zones[i].offset_s = &k->zone_off[i];
        k->zones[i].n = 1;
        k->pol.n_zones = i + 1;
    }
    k->pol.zones = k->zones;
}

/* ---- checks ---- */

/* Everything of a plan, bodies included (determinism). New string. */
static char *plan_dump(const struct rc_plan *plan)
{
    json_t *all = json_array();
    size_t i, j;
    char *s;

    for (i = 0; i < plan->n_actions; i++) {
        const struct rc_action *a = &plan->actions[i];
        json_t *inst = json_array();

        for (j = 0; j < a->n_instances; j++)
            json_array_append_new(inst, json_string(a->instances[j]));
        json_array_append_new(
            all,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:s, s:i, s:O?}", "pool",
                      a->pool, "verb", rc_verb_name(a->verb), "method", rc_method_name(a->method),
                      "target", a->target, "path", a->path, "api", a->api_version, "instances",
                      inst, "count", (json_int_t)(a->has_count ? a->count : -1), "reason",
                      a->reason, "key", a->key, "wave", a->wave, "body", a->body));
    }
    for (i = 0; i < plan->n_pools; i++) {
        const struct rc_pool_status *st = &plan->pools[i];

        json_array_append_new(all,
                              json_pack("{s:s, s:s?, s:s?, s:s?, s:I}", "pool", st->pool, "reason",
                                        st->reason, "message", st->message, "summary", st->summary,
                                        "requeue", (json_int_t)st->requeue_at_ms));
    }
    s = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    return s;
}

static bool suffix_ci(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);

    return b <= a && rc_strcasecmp(s + a - b, suf) == 0;
}

static void describe(const struct rc_action *a, char *buf, size_t size)
{
    char inst[512];
    size_t i, len = 0;

    inst[0] = '\0';
    for (i = 0; i < a->n_instances && len < sizeof(inst); i++)
        len +=
            (size_t)snprintf(inst + len, sizeof(inst) - len, "%s%s", i ? "," : "", a->instances[i]);
    snprintf(buf, size, "%s %s %s wave=%d count=%lld inst=[%s] reason=\"%s\"",
             rc_verb_name(a->verb), rc_method_name(a->method), a->path, a->wave,
             a->has_count ? (long long)a->count : -1LL, inst, a->reason);
}

static void check_actions(struct kase *k, const struct rc_plan *plan, const json_t *expect)
{
    size_t i, j, n = json_array_size(expect);
    json_t *e;
    char d[2048];

    if (plan->n_actions != n) {
        failf(k, "expected %zu actions, got %zu", n, plan->n_actions);
        for (i = 0; i < plan->n_actions; i++) {
            describe(&plan->actions[i], d, sizeof(d));
            failf(k, "  got[%zu] %s", i, d);
        }
        return;
    }
    json_array_foreach(expect, i, e)
    {
        const struct rc_action *a = &plan->actions[i];
        const char *s;
        json_t *v;
        bool ok = true;

        describe(a, d, sizeof(d));
        if ((s = jstr(e, "verb")) && strcmp(s, rc_verb_name(a->verb)) != 0)
            ok = false;
        if ((s = jstr(e, "method")) && strcmp(s, rc_method_name(a->method)) != 0)
            ok = false;
        if ((s = jstr(e, "target")) && !suffix_ci(a->target, s))
            ok = false;
        if ((s = jstr(e, "path")) && !suffix_ci(a->path, s))
            ok = false;
        if ((s = jstr(e, "pool")) && strcmp(s, a->pool) != 0)
            ok = false;
        if ((s = jstr(e, "reason")) && !strstr(a->reason, s))
            ok = false;
        if ((v = json_object_get(e, "count")) &&
            (!a->has_count || a->count != json_integer_value(v)))
            ok = false;
        if ((v = json_object_get(e, "wave")) && a->wave != json_integer_value(v))
            ok = false;
        if ((v = json_object_get(e, "instances"))) {
            if (json_array_size(v) != a->n_instances) {
                ok = false;
            } else {
                for (j = 0; j < a->n_instances; j++) {
                    if (strcmp(json_string_value(json_array_get(v, j)), a->instances[j]) != 0)
                        ok = false;
                }
            }
        }
        if (!a->key || !a->key[0] || !a->reason || !a->reason[0])
            ok = false;
        if (!ok) {
            char *want = json_dumps(e, JSON_COMPACT);

            failf(k, "action %zu: want %s, got %s", i, want, d);
            free(want);
        }
    }
}

static const char *cond_name(enum rc_cond c)
{
    return c == RC_COND_TRUE ? "True" : c == RC_COND_FALSE ? "False" : "Unknown";
}

static void check_status(struct kase *k, const struct rc_plan *plan, const json_t *es)
{
    const char *key = jstr(es, "pool");
    char dk[300];
    const struct rc_pool_status *st = NULL;
    size_t i;
    const char *s;
    json_t *v;

    if (!key && find_pool(k, NULL)) {
        pool_key(find_pool(k, NULL), dk, sizeof(dk));
        key = dk;
    }
    for (i = 0; key && i < plan->n_pools; i++) {
        if (strcmp(plan->pools[i].pool, key) == 0)
            st = &plan->pools[i];
    }
    if (!st) {
        failf(k, "no status for %s", key ? key : "?");
        return;
    }
    if ((s = jstr(es, "reason")) && (!st->reason || strcmp(s, st->reason) != 0))
        failf(k, "status reason: want %s, got %s (message \"%s\")", s, st->reason,
              st->message ? st->message : "");
    if ((s = jstr(es, "message")) && (!st->message || strcmp(s, st->message) != 0))
        failf(k, "status message: want \"%s\", got \"%s\"", s, st->message);
    if ((s = jstr(es, "message_contains")) && (!st->message || !strstr(st->message, s)))
        failf(k, "status message: want it to contain \"%s\", got \"%s\"", s, st->message);
#define CHECK_INT(name, field)                                                                     \
    if ((v = json_object_get(es, name)) && json_integer_value(v) != (field))                       \
        failf(k, "status %s: want %lld, got %lld", name, (long long)json_integer_value(v),         \
              (long long)(field));
    CHECK_INT("replicas", st->replicas)
    CHECK_INT("ready", st->ready_replicas)
    CHECK_INT("updated", st->updated_replicas)
    CHECK_INT("expiring", st->expiring_replicas)
    CHECK_INT("desired", st->desired_replicas)
    CHECK_INT("pending", st->pending)
#undef CHECK_INT
    if ((v = json_object_get(es, "requeue_at"))) {
        int64_t t = 0;

        if (parse_when(k, v, &t) < 0 || t != st->requeue_at_ms) {
            char got[RC_TIME_MAX];

            rc_time_format(st->requeue_at_ms, got, sizeof(got));
            failf(k, "status requeue_at: want %s, got %s", json_string_value(v), got);
        }
    }
    if ((v = json_object_get(es, "last_scale"))) {
        int64_t t = 0;

        if (parse_when(k, v, &t) < 0 || t != st->last_scale_ms)
            failf(k, "status last_scale: want %s, got %lld", json_string_value(v),
                  (long long)st->last_scale_ms);
    }
    if ((s = jstr(es, "ready_cond")) && strcmp(s, cond_name(st->ready)) != 0)
        failf(k, "status Ready: want %s, got %s", s, cond_name(st->ready));
    if ((s = jstr(es, "degraded")) && strcmp(s, cond_name(st->degraded)) != 0)
        failf(k, "status Degraded: want %s, got %s", s, cond_name(st->degraded));
    if ((s = jstr(es, "stalled")) && strcmp(s, cond_name(st->stalled)) != 0)
        failf(k, "status Stalled: want %s, got %s", s, cond_name(st->stalled));
    if ((s = jstr(es, "halted_image"))) {
        char h[1024];

        expand_image(s, h, sizeof(h));
        if (!st->halted_image || strcmp(h, st->halted_image) != 0)
            failf(k, "status halted_image: want %s, got %s", h,
                  st->halted_image ? st->halted_image : "(none)");
    }
}

static void check_names(struct kase *k, const struct rc_plan *plan)
{
    size_t i, max = 64;
    json_t *mn = json_object_get(k->doc, "max_name");

    for (i = 0; i < plan->n_actions; i++) {
        const char *t = plan->actions[i].target;
        const char *vm = strstr(t, "/virtualMachines/");
        const char *seg = strrchr(t, '/');

        size_t lim = strstr(t, "/networkInterfaces/") ? 80 : 64; /* Azure: NIC 80, VM 64 */

        if (seg && strlen(seg + 1) > lim)
            failf(k, "name too long (%zu > %zu): %s", strlen(seg + 1), lim, seg + 1);
        if (mn && vm && !strstr(vm + 1, "/")) {
            max = (size_t)json_integer_value(mn);
            if (strlen(vm + 17) > max)
                failf(k, "VM name too long (%zu > %zu): %s", strlen(vm + 17), max, vm + 17);
        }
    }
}

/* A typo in a case must not silently weaken it: unknown keys fail. */
static bool keys_known(struct kase *k, const json_t *obj, const char *const *known,
                       const char *where)
{
    const char *key;
    json_t *v;
    bool ok = true;

    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i;
        bool found = false;

        for (i = 0; known[i]; i++)
            found = found || strcmp(known[i], key) == 0;
        if (!found) {
            failf(k, "%s: unknown key \"%s\"", where, key);
            ok = false;
        }
    }
    return ok;
}

static bool case_keys_ok(struct kase *k)
{
    static const char *const top[] = {"now",           "desired",  "observed",
                                      "policy",        "expect",   "expect_error",
                                      "expect_status", "max_name", NULL};
    static const char *const act[] = {"verb",   "method", "target", "path",      "pool",
                                      "reason", "count",  "wave",   "instances", NULL};
    static const char *const st[] = {
        "pool",     "reason",   "message",      "message_contains", "replicas",   "ready",
        "updated",  "expiring", "desired",      "pending",          "requeue_at", "ready_cond",
        "degraded", "stalled",  "halted_image", "last_scale",       NULL};
    size_t i;
    json_t *e;
    bool ok = keys_known(k, k->doc, top, "case");

    json_array_foreach(json_object_get(k->doc, "expect"), i, e)
    {
        ok = keys_known(k, e, act, "expect[]") && ok;
    }
    if (json_object_get(k->doc, "expect_status"))
        ok = keys_known(k, json_object_get(k->doc, "expect_status"), st, "expect_status") && ok;
    {
        static const char *const des[] = {"kind", "name",        "spec", "deleting",
                                          "uid",  "annotations", NULL};
        static const char *const obs[] = {"instances", "scaleSets",     "nics",
                                          "workers",   "groups",        "templates",
                                          "pools",     "imageVersions", NULL};
        static const char *const inst[] = {
            "name",      "pool",        "instanceId", "createdAt", "state", "image",
            "busy",      "latestModel", "specHash",   "untagged",  "tags",  "drainingSince",
            "expiresAt", "extensions",  "registered", "job",       "jobs",  NULL};
        static const char *const sset[] = {"pool",       "name",      "capacity",      "image",
                                           "specHash",   "lastScale", "halted",        "untagged",
                                           "haltedHash", "state",     "orchestration", "tags",
                                           NULL};
        static const char *const opool[] = {
            "signal",       "busy",        "jobDone",     "listFailed",      "lastScale",
            "lastScaleOut", "lastScaleIn", "haltedImage", "desiredReplicas", NULL};
        static const char *const pol[] = {"collect_orphans", "max_deletions", "allow_mass_delete",
                                          "only_pool",       "zones",         NULL};
        const json_t *o = json_object_get(k->doc, "observed");
        const json_t *insts = json_is_array(o) ? o : json_object_get(o, "instances");
        const char *pk;
        json_t *v;

        json_array_foreach(json_object_get(k->doc, "desired"), i, e)
        {
            ok = keys_known(k, e, des, "desired[]") && ok;
        }
        if (json_is_object(o))
            ok = keys_known(k, o, obs, "observed") && ok;
        json_array_foreach(insts, i, e)
        {
            ok = keys_known(k, e, inst, "observed.instances[]") && ok;
        }
        json_array_foreach(json_object_get(o, "scaleSets"), i, e)
        {
            ok = keys_known(k, e, sset, "observed.scaleSets[]") && ok;
        }
        json_object_foreach(json_object_get(o, "pools"), pk, v)
        {
            ok = keys_known(k, v, opool, "observed.pools") && ok;
        }
        if (json_object_get(k->doc, "policy"))
            ok = keys_known(k, json_object_get(k->doc, "policy"), pol, "policy") && ok;
    }
    if (!json_object_get(k->doc, "expect") && !json_object_get(k->doc, "expect_error")) {
        failf(k, "case has neither expect nor expect_error");
        ok = false;
    }
    return ok;
}

static int run_case(struct kase *k)
{
    struct rc_plan p1 = {0}, p2 = {0}, p3 = {0};
    struct rc_err err = {0};
    const char *want_err = jstr(k->doc, "expect_error");
    char *d1 = NULL, *d2 = NULL, aerr[512];
    int r;

    if (!case_keys_ok(k))
        return -1;
    if (!jstr(k->doc, "now") || rc_time_parse(jstr(k->doc, "now"), &k->now, NULL) < 0) {
        failf(k, "now: missing or not RFC 3339");
        return -1;
    }
    r = build_desired(k, json_object_get(k->doc, "desired"));
    if (r != 0)
        return r > 0 ? 0 : -1;
    if (build_observed(k, json_object_get(k->doc, "observed")) < 0)
        return -1;
    build_policy(k, json_object_get(k->doc, "policy"));
    r = rc_plan(&k->want, &k->have, &k->pol, k->now, &p1, &err);
    if (want_err) {
        if (r == 0)
            failf(k, "expected error \"%s\", planning succeeded with %zu actions", want_err,
                  p1.n_actions);
        else if (!strstr(err.msg, want_err))
            failf(k, "expected error \"%s\", got \"%s\"", want_err, err.msg);
        rc_plan_release(&p1);
        return 0;
    }
    if (r < 0) {
        failf(k, "rc_plan: %s", err.msg);
        return -1;
    }
    if (rc_plan(&k->want, &k->have, &k->pol, k->now, &p2, &err) < 0) {
        failf(k, "second rc_plan: %s", err.msg);
        goto out;
    }
    d1 = plan_dump(&p1);
    d2 = plan_dump(&p2);
    if (!d1 || !d2 || strcmp(d1, d2) != 0)
        failf(k, "not deterministic: two plans of the same input differ");
    check_actions(k, &p1, json_object_get(k->doc, "expect"));
    if (json_object_get(k->doc, "expect_status"))
        check_status(k, &p1, json_object_get(k->doc, "expect_status"));
    check_names(k, &p1);
    if (pa_apply(&k->have, &p1, k->now, aerr, sizeof(aerr)) < 0) {
        failf(k, "%s", aerr);
        goto out;
    }
    if (rc_plan(&k->want, &k->have, &k->pol, k->now, &p3, &err) < 0) {
        failf(k, "re-plan after apply: %s", err.msg);
        goto out;
    }
    if (p3.n_actions != 0) {
        size_t i;
        char d[2048];

        failf(k, "re-plan after apply is not empty (%zu actions)", p3.n_actions);
        for (i = 0; i < p3.n_actions; i++) {
            describe(&p3.actions[i], d, sizeof(d));
            failf(k, "  replan[%zu] %s", i, d);
        }
    }
out:
    free(d1);
    free(d2);
    rc_plan_release(&p1);
    rc_plan_release(&p2);
    rc_plan_release(&p3);
    return 0;
}

static int load_case(struct kase *k, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;
    struct rc_node_doc *docs = NULL;
    size_t n = 0;
    struct rc_errs errs = {0};
    int r = -1;

    if (!f) {
        failf(k, "cannot open");
        return -1;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
            buf[len] = '\0';
            if (rc_node_parse_yaml(path, buf, (size_t)len, &docs, &n, &errs) == 0 && n == 1 &&
                docs[0].root) {
                k->doc = rc_node_to_json(docs[0].root);
                r = k->doc ? 0 : -1;
            } else {
                char e[512] = "not one YAML document";

                if (errs.n)
                    rc_err_format(&errs.v[0], e, sizeof(e));
                failf(k, "%s", e);
            }
        }
    }
    fclose(f);
    free(buf);
    rc_node_docs_free(docs, n);
    rc_errs_release(&errs);
    return r;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/cases/plan";
    DIR *d = opendir(dir);
    struct dirent *de;
    char **files = NULL;
    size_t n = 0, cap = 0, i;
    int passed = 0, failed = 0;

    if (!d) {
        fprintf(stderr, "run_plan: cannot open %s\n", dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);

        if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            files = realloc(files, cap * sizeof(char *));
            if (!files)
                return 1;
        }
        files[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(files, n, sizeof(char *), name_cmp);
    for (i = 0; i < n; i++) {
        struct kase k;
        char path[4096];

        memset(&k, 0, sizeof(k));
        k.file = files[i];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        if (load_case(&k, path) == 0)
            run_case(&k);
        if (k.fail_len) {
            printf("%s\n", k.fail);
            failed++;
        } else {
            passed++;
        }
        json_decref(k.doc);
        rc_desired_release(&k.want);
        rc_observed_release(&k.have);
        free(files[i]);
    }
    free(files);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
