/*
 * rc_plan_vmss.c - ScaleSet mode writes (see rc_plan.c for the decisions).
 *
 * One scale set per pool. Writes, by wave:
 *   0: POST delete (victims, explicit instanceIds), PATCH instance tags
 *      (drain), POST reimage (recycleAfterJob Reimage, explicit instanceIds)
 *   1: PATCH the VMSS (capacity, model image, tags) or PUT it whole when the
 *      spec hash changed (extensions, size, network, ... are in the model)
 * The capacity written is (instances left after the deletes) + creates, so a
 * surge and a scale-out are the same single PATCH.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_arm.h"
#include "rc_plan_int.h"
#include "rc_util.h"

static const char *tag_of(const struct rc_owned *own, const char *key)
{
    size_t i;

    for (i = 0; i < own->n_tags; i++) {
        if (own->tags[i].key && strcmp(own->tags[i].key, key) == 0)
            return own->tags[i].value;
    }
    return NULL;
}

static const char *image_label(const char *id)
{
    const char *p = id ? strstr(id, "/versions/") : NULL;

    return p ? p + 10 : (id ? id : "");
}

/* Tags the VMSS carries after this plan: the ownership set plus the
 * last-scale-time and halted-image memories. New reference. */
static json_t *vmss_tags(struct rp_ctx *c, const char *image)
{
    int64_t created = 0;
    const char *ct = tag_of(&c->ss->own, RC_TAG_CREATED_AT);
    json_t *tags;
    char t[RC_TIME_MAX];

    if (ct && rc_time_parse(ct, &created, NULL) < 0)
        created = 0;
    tags = rc_arm_tags(c->p, image, created, 0);
    if (!tags)
        return NULL;
    if (c->scale_write) {
        rc_time_format(c->now, t, sizeof(t));
        json_object_set_new(tags, RC_TAG_LAST_SCALE, json_string(t));
    } else if (tag_of(&c->ss->own, RC_TAG_LAST_SCALE)) {
        json_object_set_new(tags, RC_TAG_LAST_SCALE,
                            json_string(tag_of(&c->ss->own, RC_TAG_LAST_SCALE)));
    }
    if (c->halted[0]) {
        char v[RC_ARM_TAG_VALUE_MAX + 1];
        /* the spec hash of the model a halt restores (rc_plan.c): set by the
         * halt, kept while it holds */
        const char *hh = c->halt_now ? c->spec_hash : tag_of(&c->ss->own, RC_TAG_HALTED_HASH);

        if (rc_arm_tag_value(c->halted, v, sizeof(v)) == 0)
            json_object_set_new(tags, RC_TAG_HALTED_IMAGE, json_string(v));
        if (hh)
            json_object_set_new(tags, RC_TAG_HALTED_HASH, json_string(hh));
    } else if (c->keep_halt_tags) { /* instances rest on them (rc_plan.c) */
        const char *hi = tag_of(&c->ss->own, RC_TAG_HALTED_IMAGE);
        const char *hh = tag_of(&c->ss->own, RC_TAG_HALTED_HASH);

        if (hi && hh) {
            json_object_set_new(tags, RC_TAG_HALTED_IMAGE, json_string(hi));
            json_object_set_new(tags, RC_TAG_HALTED_HASH, json_string(hh));
        }
    }
    return tags;
}

static bool flexible(const struct rp_ctx *c)
{
    if (c->ss && c->ss->orchestration)
        return rc_strcasecmp(c->ss->orchestration, "Flexible") == 0;
    return c->p->spec.orchestration == RC_ORCH_FLEXIBLE;
}

static int create_vmss(struct rp_ctx *c)
{
    json_t *body = rc_arm_vmss_body(c->p, c->target_arm, c->desired, c->now);
    char t[RC_TIME_MAX];
    char name[RC_NAME_MAX + 1];
    json_t *tags;

    if (body && c->p->spec.autoscale.enabled && (tags = json_object_get(body, "tags"))) {
        rc_time_format(c->now, t, sizeof(t));
        json_object_set_new(tags, RC_TAG_LAST_SCALE, json_string(t));
        c->scale_write = true;
    }
    if (rc_name_vmss(c->p->meta.namespace, c->p->meta.name, name, sizeof(name)) < 0)
        name[0] = '\0';
    c->creates = c->desired;
    return rp_add(c, RC_VERB_CREATE, RC_HTTP_PUT, c->vmss_id, NULL, RC_API_COMPUTE, body, NULL, 0,
                  true, c->desired, 0, "create scale set %s with %d instance%s on %s", name,
                  c->desired, c->desired == 1 ? "" : "s", image_label(c->target));
}

/* Instance ids sort numerically ("2" < "10"), so the list does not depend on
 * the order ARM listed the instances in. */
static int iid_cmp(const void *a, const void *b)
{
    const struct rp_inst *x = *(const struct rp_inst *const *)a;
    const struct rp_inst *y = *(const struct rp_inst *const *)b;
    size_t lx = strlen(x->o->instance_id), ly = strlen(y->o->instance_id);

    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp(x->o->instance_id, y->o->instance_id);
}

static void sorted_ids(struct rp_inst **sel, size_t n, char **ids, char **names)
{
    size_t i;

    qsort(sel, n, sizeof(*sel), iid_cmp);
    for (i = 0; i < n; i++) {
        ids[i] = sel[i]->o->instance_id;
        names[i] = sel[i]->o->name;
    }
}

/* The drain tag on one instance. A Flexible member is a plain VM (PATCH
 * {"tags"}); a Uniform instance has no PATCH: VirtualMachineScaleSetVMs
 * Update is a PUT whose body needs location, so it gets {"location","tags"}. */
static int instance_tags_patch(struct rp_ctx *c, const struct rp_inst *x)
{
    json_t *tags = rp_tags_json(x->o->own.tags, x->o->own.n_tags, false);
    json_t *body;
    char t[RC_TIME_MAX];
    bool uniform = !flexible(c);
    const char *name = x->o->name;
    char idbuf[RC_OBS_ID_MAX];
    const char *id = rc_obs_instance_id(x->o, idbuf, sizeof(idbuf));

    if (!id) {
        json_decref(tags);
        return -RC_EINVAL;
    }
    if (!tags)
        return -RC_ENOMEM;
    rc_time_format(c->now, t, sizeof(t));
    json_object_set_new(tags, RC_TAG_DRAINING, json_string(t));
    body = rc_arm_tags_patch(tags);
    json_decref(tags);
    if (body && uniform)
        json_object_set_new(body, "location",
                            json_string(c->ss->location ? c->ss->location : c->p->spec.location));
    return rp_add(c, RC_VERB_UPDATE, uniform ? RC_HTTP_PUT : RC_HTTP_PATCH, id, NULL,
                  RC_API_COMPUTE, body, &name, 1, false, 0, 0, "drain %s (busy, %s): tag %s", name,
                  x->why ? x->why : "", RC_TAG_DRAINING);
}

int rp_plan_vmss(struct rp_ctx *c)
{
    char **ids = NULL, **names = NULL;
    struct rp_inst **sel = NULL;
    size_t i, nd = 0, nr = 0;
    int r = 0, nondel = 0, new_cap, cur_after;
    bool model_image, model_hash;
    char list[1024];

    if (!c->ss)
        return c->desired > 0 ? create_vmss(c) : 0;
    ids = calloc(c->n ? c->n : 1, sizeof(char *));
    names = calloc(c->n ? c->n : 1, sizeof(char *));
    sel = calloc(c->n ? c->n : 1, sizeof(*sel));
    if (!ids || !names || !sel) {
        r = -RC_ENOMEM;
        goto out;
    }
    /* wave 0: deletes */
    for (i = 0; i < c->n; i++) {
        struct rp_inst *x = &c->v[i];

        if (!x->deleting)
            nondel++;
        if (!x->del)
            continue;
        if (!x->o->instance_id) {
            x->del = false; /* cannot address it: never an implicit "all" */
            c->n_del--;
            continue;
        }
        sel[nd++] = x;
    }
    sorted_ids(sel, nd, ids, names);
    if (nd && flexible(c)) {
        /* Flexible: per-VM deletes (batch instance operations do not apply) */
        for (i = 0; i < nd && r == 0; i++) {
            const char *nm = sel[i]->o->name;
            char idbuf[RC_OBS_ID_MAX];
            const char *id = rc_obs_instance_id(sel[i]->o, idbuf, sizeof(idbuf));

            if (!id) {
                r = -RC_EINVAL;
                break;
            }
            r = rp_add(c, RC_VERB_DELETE, RC_HTTP_DELETE, id, NULL, RC_API_COMPUTE, NULL, &nm, 1,
                       false, 0, 0, "delete VM %s (%s)", nm, sel[i]->why ? sel[i]->why : "");
        }
        if (r < 0)
            goto out;
    } else if (nd) {
        char why[1200];
        size_t len = 0;

        why[0] = '\0';
        for (i = 0; i < nd && len < sizeof(why); i++)
            len += (size_t)rp_fmt(why + len, sizeof(why) - len, "%s%s (%s)", len ? ", " : "",
                                  sel[i]->o->name, sel[i]->why ? sel[i]->why : "");
        r = rp_add(c, RC_VERB_DELETE, RC_HTTP_POST, c->vmss_id, "/delete", RC_API_COMPUTE,
                   rc_arm_instance_ids_body(ids, nd), (const char *const *)ids, nd, true,
                   (int64_t)nd, 0, "delete %zu instance%s: %s", nd, nd == 1 ? "" : "s", why);
        if (r < 0)
            goto out;
    }
    /* wave 0: drains */
    for (i = 0; i < c->n; i++) {
        if (c->v[i].drain) {
            r = instance_tags_patch(c, &c->v[i]);
            if (r < 0)
                goto out;
        }
    }
    /* wave 0: reimage after job */
    for (i = 0; i < c->n; i++) {
        struct rp_inst *x = &c->v[i];

        if (!x->recycle_reimage || !x->live || x->del || !x->o->instance_id)
            continue;
        if (x->busy) {
            rp_wait(c, "WaitingForDrain", 0, "%s busy; reimage after its job", x->o->name);
            continue;
        }
        sel[nr++] = x;
    }
    sorted_ids(sel, nr, ids, names);
    if (nr && flexible(c)) {
        c->n_reimage = (int)nr;
        for (i = 0; i < nr && r == 0; i++) {
            const char *nm = sel[i]->o->name;
            char idbuf[RC_OBS_ID_MAX];
            const char *id = rc_obs_instance_id(sel[i]->o, idbuf, sizeof(idbuf));

            if (!id) {
                r = -RC_EINVAL;
                break;
            }
            r = rp_add(c, RC_VERB_REIMAGE, RC_HTTP_POST, id, "/reimage", RC_API_COMPUTE,
                       json_pack("{s:b}", "tempDisk", 0), &nm, 1, false, 0, 0,
                       "reimage %s after its job (recycleAfterJob Reimage)", nm);
        }
        if (r < 0)
            goto out;
    } else if (nr) {
        rp_join(names, nr, list, sizeof(list));
        c->n_reimage = (int)nr;
        r = rp_add(c, RC_VERB_REIMAGE, RC_HTTP_POST, c->vmss_id, "/reimage", RC_API_COMPUTE,
                   rc_arm_instance_ids_body(ids, nr), (const char *const *)ids, nr, true,
                   (int64_t)nr, 0, "reimage after job (recycleAfterJob Reimage): %s", list);
        if (r < 0)
            goto out;
    }
    /* wave 1: the scale set itself */
    new_cap = nondel - (int)nd + c->creates;
    cur_after = (int)c->ss->capacity - (int)nd;
    model_image = !c->ss->image || rc_strcasecmp(c->ss->image, c->target) != 0;
    model_hash = !c->ss->spec_hash || strcmp(c->ss->spec_hash, c->spec_hash) != 0;
    if (model_hash) {
        json_t *body = rc_arm_vmss_body(c->p, c->target_arm, new_cap, c->now);
        json_t *tags = vmss_tags(c, c->target);

        if (body && tags)
            json_object_set(body, "tags", tags);
        json_decref(tags);
        r = rp_add(c, RC_VERB_UPDATE, RC_HTTP_PUT, c->vmss_id, NULL, RC_API_COMPUTE, body, NULL, 0,
                   true, new_cap, 1,
                   "update scale set model (spec changed: hash %s -> %s), capacity %d -> %d",
                   c->ss->spec_hash ? c->ss->spec_hash : "none", c->spec_hash, cur_after, new_cap);
    } else if (model_image || c->halt_now || new_cap != cur_after || c->scale_write) {
        bool tags_needed = model_image || c->halt_now || c->scale_write;
        json_t *tags = tags_needed ? vmss_tags(c, c->target) : NULL;
        json_t *body = rc_arm_vmss_patch(new_cap, model_image ? c->target_arm : NULL, tags);
        char why[1200];

        json_decref(tags);
        if (c->halt_now)
            rp_fmt(why, sizeof(why), "halt rollout of %s (canary failed): model back to %s",
                   image_label(c->halt_image), image_label(c->target));
        else if (model_image)
            rp_fmt(why, sizeof(why), "roll out %s: model image %s -> %s", image_label(c->target),
                   image_label(c->ss->image), image_label(c->target));
        else
            why[0] = '\0';
        if (new_cap == cur_after && c->scale_write) {
            size_t l = strlen(why);

            rp_fmt(why + l, sizeof(why) - l, "%sscale in to %d (autoscale %s): record %s",
                   l ? "; " : "", new_cap, c->scale_reason ? c->scale_reason : "",
                   RC_TAG_LAST_SCALE);
        } else if (new_cap != cur_after) {
            size_t l = strlen(why);
            bool replacing = false;

            for (i = 0; i < c->n; i++)
                replacing = replacing || c->v[i].old || c->v[i].failed;
            if (c->scale_write && c->scale_reason)
                rp_fmt(why + l, sizeof(why) - l, "%s%s %d -> %d (autoscale %s)", l ? "; " : "",
                       new_cap > cur_after ? "scale out" : "scale in", cur_after, new_cap,
                       c->scale_reason);
            else if (replacing) {
                size_t k = 0;

                l += (size_t)rp_fmt(why + l, sizeof(why) - l, "%ssurge %d -> %d (replacements)",
                                    l ? "; " : "", cur_after, new_cap);
                for (i = 0; i < c->n && l < sizeof(why); i++) {
                    const struct rp_inst *x = &c->v[i];

                    if (!x->old || x->del || k >= 8)
                        continue;
                    l += (size_t)rp_fmt(why + l, sizeof(why) - l, "%s%s (%s)", k ? ", " : ": for ",
                                        x->o->name, x->why ? x->why : "");
                    k++;
                }
            } else
                rp_fmt(why + l, sizeof(why) - l, "%s%s %d -> %d (replicas %d)", l ? "; " : "",
                       new_cap > cur_after ? "scale out" : "scale in", cur_after, new_cap,
                       c->desired);
        }
        r = rp_add(c,
                   tags_needed && !(c->scale_write && !model_image && !c->halt_now) ? RC_VERB_UPDATE
                                                                                    : RC_VERB_SCALE,
                   RC_HTTP_PATCH, c->vmss_id, NULL, RC_API_COMPUTE, body, NULL, 0, true, new_cap, 1,
                   "%s", why);
    }
out:
    free(sel);
    free(ids);
    free(names);
    return r;
}
