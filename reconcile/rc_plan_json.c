/*
 * rc_plan_json.c - names of verbs and methods, and the Plan JSON of
 * DESIGN.md §10:
 *   {"changes": N, "pools": [{"pool": "ns/name", "actions": [{"verb", "target",
 *    "instances"?, "count"?, "reason", "key"}]}]}
 * Only pools with at least one action are listed, in plan order (the plan is
 * sorted by pool). "instances" appears when the action names instances,
 * "count" when it carries one.
 */
#include "rc_plan.h"

#include <string.h>

const char *rc_verb_name(enum rc_verb v)
{
    switch (v) {
    case RC_VERB_CREATE:
        return "create";
    case RC_VERB_UPDATE:
        return "update";
    case RC_VERB_SCALE:
        return "scale";
    case RC_VERB_DELETE:
        return "delete";
    case RC_VERB_REIMAGE:
        return "reimage";
    case RC_VERB_REGISTER:
        return "register";
    case RC_VERB_DEREGISTER:
        return "deregister";
    case RC_VERB_RUN:
        return "run";
    }
    return "unknown";
}

const char *rc_method_name(enum rc_method m)
{
    switch (m) {
    case RC_HTTP_PUT:
        return "PUT";
    case RC_HTTP_PATCH:
        return "PATCH";
    case RC_HTTP_POST:
        return "POST";
    case RC_HTTP_DELETE:
        return "DELETE";
    }
    return "GET";
}

static json_t *action_json(const struct rc_action *a)
{
    json_t *o = json_object();
    json_t *inst;
    size_t i;

    if (!o)
        return NULL;
    if (json_object_set_new(o, "verb", json_string(rc_verb_name(a->verb))) < 0 ||
        json_object_set_new(o, "target", json_string(a->target ? a->target : "")) < 0)
        goto fail;
    if (a->n_instances) {
        inst = json_array();
        if (!inst || json_object_set_new(o, "instances", inst) < 0)
            goto fail;
        for (i = 0; i < a->n_instances; i++) {
            if (json_array_append_new(inst, json_string(a->instances[i])) < 0)
                goto fail;
        }
    }
    if (a->has_count && json_object_set_new(o, "count", json_integer(a->count)) < 0)
        goto fail;
    if (json_object_set_new(o, "reason", json_string(a->reason ? a->reason : "")) < 0 ||
        json_object_set_new(o, "key", json_string(a->key ? a->key : "")) < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *rc_plan_to_json(const struct rc_plan *plan)
{
    json_t *root = json_object();
    json_t *pools = json_array();
    json_t *cur = NULL;
    const char *cur_pool = NULL;
    size_t i;

    if (!root || !pools ||
        json_object_set_new(root, "changes", json_integer(plan ? (json_int_t)plan->n_actions : 0)) <
            0) {
        json_decref(pools);
        goto fail;
    }
    if (json_object_set_new(root, "pools", pools) < 0)
        goto fail;
    for (i = 0; plan && i < plan->n_actions; i++) {
        const struct rc_action *a = &plan->actions[i];
        json_t *aj;

        if (!cur_pool || strcmp(cur_pool, a->pool) != 0) {
            json_t *p = json_object();

            cur = json_array();
            if (!p || !cur || json_object_set_new(p, "pool", json_string(a->pool)) < 0 ||
                json_object_set_new(p, "actions", cur) < 0) {
                json_decref(p);
                goto fail;
            }
            if (json_array_append_new(pools, p) < 0)
                goto fail;
            cur_pool = a->pool;
        }
        aj = action_json(a);
        if (!aj || json_array_append_new(cur, aj) < 0)
            goto fail;
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}
